#!/usr/bin/env python3
"""Compile the fused CUDA program with NVRTC on a machine without a GPU, and report each kernel's registers and spills.

The program is the one src/UKan.Core/Native/FusedCudaKernels.cs builds at run time: the .cu files of Native/Kernels in
the order its Source lists them, compiled as one NVRTC program with its options (--gpu-architecture=ARCH, --std=c++17)
plus ptxas's verbose report. A compile error shows here before a GPU call is spent on it, and a kernel whose launch
bounds make ptxas spill registers to local memory shows its spill bytes.

NVRTC comes from the CUDA toolkit; on Debian 12 without one, `libnvrtc11.2` and `libnvrtc-builtins11.8` (component
non-free) suffice: NVRTC 11.8 knows sm_90. A different NVRTC than the GPU machine's may allocate registers differently,
so the figures are a guide, not the device's.

Usage: scripts/nvrtc_check.py [--arch sm_90] [--kernels REGEX] [--lib PATH] [-D NAME=VALUE]...
Exit status 0 when the program compiles, 1 when it does not (the compiler's log is printed), 2 for a wrong command
line or no NVRTC.
"""
import argparse
import ctypes
import ctypes.util
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
NATIVE = ROOT / "src" / "UKan.Core" / "Native"


def program_files():
    """The kernel files in the order FusedCudaKernels.Source joins them."""
    cs = (NATIVE / "FusedCudaKernels.cs").read_text(encoding="utf-8")
    start = cs.index("new(() => string.Join")
    return re.findall(r'"(\w+\.cu)"', cs[start:cs.index(".Select(NativeSources.ReadKernel)", start)])


def load_nvrtc(path):
    candidates = [path] if path else [ctypes.util.find_library("nvrtc"), "libnvrtc.so", "libnvrtc.so.12", "libnvrtc.so.11.2"]
    for name in filter(None, candidates):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    print("no NVRTC library found: install the CUDA toolkit's NVRTC (Debian 12: apt install libnvrtc11.2 "
          "libnvrtc-builtins11.8 from non-free) or pass --lib", file=sys.stderr)
    sys.exit(2)


def program_source(files=None):
    """The fused program's source: the kernel files (default program_files()) joined in FusedCudaKernels.Source's order."""
    return "\n".join((NATIVE / "Kernels" / f).read_text(encoding="utf-8") for f in files or program_files())


def compile_program(nvrtc, source, arch, defines=(), cubin=False):
    """(NVRTC status, log with ptxas's report, the machine code when asked for and compiled, else None)."""
    prog = ctypes.c_void_p()
    if nvrtc.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), b"kan_features.cu", 0, None, None) != 0:
        print("nvrtcCreateProgram failed", file=sys.stderr)
        sys.exit(1)
    options = [f"--gpu-architecture={arch}".encode(), b"--std=c++17", b"--ptxas-options=-v"] + [f"-D{d}".encode() for d in defines]
    status = nvrtc.nvrtcCompileProgram(prog, len(options), (ctypes.c_char_p * len(options))(*options))
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(prog, log)
    code = None
    if cubin and status == 0:
        nvrtc.nvrtcGetCUBINSize(prog, ctypes.byref(size))
        buffer = ctypes.create_string_buffer(size.value)
        nvrtc.nvrtcGetCUBIN(prog, buffer)
        code = buffer.raw
    nvrtc.nvrtcDestroyProgram(ctypes.byref(prog))
    return status, log.value.decode(errors="replace"), code


def kernel_report(log):
    """(kernel, registers, spill stores, spill loads) from ptxas's verbose log, one per entry."""
    rows = []
    for block in re.split(r"(?=ptxas info\s*: Compiling entry function)", log):
        name = re.search(r"Compiling entry function '(\w+)'", block)
        regs = re.search(r"Used (\d+) registers", block)
        spill = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", block)
        if name and regs:
            rows.append((name.group(1), int(regs.group(1)), int(spill.group(1)) if spill else 0, int(spill.group(2)) if spill else 0))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="sm_90", help="the GPU architecture to compile for (default sm_90, an H100/H200)")
    parser.add_argument("--kernels", default=".", help="report only kernels whose name matches this regular expression")
    parser.add_argument("--lib", help="the NVRTC library to load (default: found on the library path)")
    parser.add_argument("--define", "-D", action="append", default=[], metavar="NAME=VALUE",
                        help="a macro for the program (repeatable), e.g. a variant switch of kan_product_tf32x3.cu")
    args = parser.parse_args()
    if not re.fullmatch(r"sm_\d+a?", args.arch):
        parser.error(f"--arch {args.arch}: expected sm_ and digits, e.g. sm_90")
    for d in args.define:
        if not re.fullmatch(r"[A-Za-z_]\w*(=[\w.+-]*)?", d):
            parser.error(f"--define {d}: expected NAME or NAME=VALUE")
    try:
        pattern = re.compile(args.kernels)
    except re.error as e:
        parser.error(f"--kernels: not a regular expression ({e})")
    files = program_files()
    status, log, _ = compile_program(load_nvrtc(args.lib), program_source(files), args.arch, args.define)
    if status == 5:   # NVRTC_ERROR_INVALID_OPTION: the only option a user gives is the architecture
        print(f"--arch {args.arch}: this NVRTC does not compile for that architecture ({log.strip()})", file=sys.stderr)
        return 2
    if status != 0:
        print(log)
        print(f"NVRTC could not compile the program for {args.arch} (status {status})")
        return 1
    rows = [r for r in kernel_report(log) if pattern.search(r[0])]
    print(f"{len(files)} files, {args.arch}: compiled; {len(rows)} kernels")
    print(f"{'kernel':<44} {'registers':>9} {'spill stores':>12} {'spill loads':>11}")
    for name, regs, stores, loads in sorted(rows):
        print(f"{name:<44} {regs:>9} {stores:>12} {loads:>11}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
