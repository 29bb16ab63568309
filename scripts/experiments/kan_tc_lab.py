#!/usr/bin/env python3
"""Times the compile-time variants of kan_product_tf32x3.cu on the GPU, outside the app: each variant of the fused CUDA
program (the .cu files of src/UKan.Core/Native/Kernels, joined as FusedCudaKernels.cs joins them) compiled with NVRTC to
machine code in parallel, its registers and spills from ptxas's report, then the tensor-core product tiles and the
KANLinear input-gradient kernel launched through CuPy on random data at KANLinear's shapes, against cuBLAS's float32
(CuPy's matmul, TF32 off) on the same data: medians of CUDA-event times, and each result's largest error against a
float64 product divided by the largest value (the measure of `ukan selftest`).

Shapes (rows x d, the features' width 9d): the forward y = F . W^T (nt) and dW = dy^T . F (tn) of `ukan bench kan`'s
8,192 x 256 (U-KAN's block2 at 512², batch 32) and of the 512² paper model's dblock2 (32,768 x 128, batch 8).

Usage (GPU machine, python3 with CuPy and NVRTC): scripts/experiments/kan_tc_lab.py [--variants NAME[=DEFS] ...]
    [--shapes 8192x256 ...] [--tiles 128x64 ...] [--splits 1 8 ...] [--products y=F.Wt dW=dyt.F dx] [--runs 20] [--json OUT]
DEFS is a comma-separated list of macros, NAME=VALUE or NAME (kan_product_tf32x3.cu's KAN_TC_* switches, which it
defines only where the lab has not); a variant without DEFS is the program as released. scripts/experiments/gpu-kan-lab.sh
runs it on the GPU machine (with Nsight Compute sections and machine code on request).
"""
import argparse
import ctypes
import functools
import glob
import json
import multiprocessing
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import nvrtc_check  # noqa: E402  (program_source, compile_program, kernel_report)

SOURCE = nvrtc_check.NATIVE / "Kernels" / "kan_product_tf32x3.cu"
TILES = [(128, 128), (128, 64), (64, 128), (64, 64), (128, 32), (64, 32)]
# The released kernels and one change each (docs/results.md §2u; call 6 ran these against its own defaults).
DEFAULT_VARIANTS = [
    "default",
    "round=KAN_TC_SPLIT_ROUND",
    "step16=KAN_TC_STEP=16",
    "stages3=KAN_TC_STAGES=3",
    "sm512=KAN_TC_SM_THREADS=512",
    "grad-stages4=KAN_TC_GRAD_STAGES=4",
    "grad32=KAN_TC_GRAD_STEP=32",
]


def find_nvrtc():
    for pattern in ["/usr/local/cuda/lib64/libnvrtc.so*", "/opt/torch/.venv/lib/python3*/site-packages/nvidia/*/lib/libnvrtc.so*",
                    "/usr/lib/x86_64-linux-gnu/libnvrtc.so*"]:
        for path in sorted(glob.glob(pattern)):
            if "builtins" not in path and "alt" not in path:
                return path
    return None


def compile_variant(job):
    """(name, defines, arch, nvrtc path) -> (name, cubin bytes or None, ptxas log)."""
    name, defines, arch, lib = job
    _, log, cubin = nvrtc_check.compile_program(ctypes.CDLL(lib), nvrtc_check.program_source(), arch, defines, cubin=True)
    return name, cubin, log


def ring_bytes(a_rows, a_along, b_rows, b_along, depth, stages):
    floats = lambda r, along: r * (depth + 4) if along else depth * (r + 8)
    return stages * (floats(a_rows, a_along) + floats(b_rows, b_along)) * 4


@functools.cache
def source_default(name):
    """A numeric macro's default in kan_product_tf32x3.cu (#define NAME value)."""
    return int(re.search(rf"#define {name} (\d+)", SOURCE.read_text(encoding="utf-8")).group(1))


def macro(defines, name):
    """A numeric macro's value in a variant: its definition there, else the source's default."""
    for d in defines:
        if d.startswith(name + "="):
            return int(d.split("=", 1)[1])
    return source_default(name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS)
    ap.add_argument("--shapes", nargs="+", default=["8192x256", "32768x128"])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--tiles", nargs="+", help="only these tiles (e.g. 128x64)")
    ap.add_argument("--splits", nargs="+", type=int, default=[1, 2, 4, 8, 16])
    ap.add_argument("--products", nargs="+", default=["y=F.Wt", "dW=dyt.F", "dx"], help="which of y=F.Wt, dW=dyt.F, dx")
    ap.add_argument("--json")
    args = ap.parse_args()
    try:
        import cupy as cp
    except ImportError:
        print("kan_tc_lab.py needs CuPy and a CUDA GPU: run it on the GPU machine (scripts/experiments/gpu-kan-lab.sh)", file=sys.stderr)
        return 2

    lib = find_nvrtc()
    if lib is None:
        print("no NVRTC library found", file=sys.stderr)
        return 2
    dev = cp.cuda.Device()
    arch = "sm_%d%d" % dev.compute_capability if isinstance(dev.compute_capability, tuple) else "sm_" + dev.compute_capability
    jobs = []
    for v in args.variants:
        name, _, defs = v.partition("=")
        jobs.append((name, [d for d in defs.split(",") if d], arch, lib))
    with multiprocessing.Pool(len(jobs)) as pool:
        built = pool.map(compile_variant, jobs)
    print(f"NVRTC {lib}, {arch}")
    for vname, cubin, _ in built:
        if cubin is not None:
            pathlib.Path(f"/tmp/kan_tc_{vname}.cubin").write_bytes(cubin)

    def event_ms(fn, runs):
        fn()
        cp.cuda.Device().synchronize()
        times = []
        for _ in range(runs):
            a, b = cp.cuda.Event(), cp.cuda.Event()
            a.record()
            fn()
            b.record()
            b.synchronize()
            times.append(cp.cuda.get_elapsed_time(a, b))
        return sorted(times)[len(times) // 2]

    results = []
    rng = cp.random.default_rng(0)
    for shape in args.shapes:
        rows, d = map(int, shape.split("x"))
        width = 9 * d
        F = rng.standard_normal((rows, width), dtype=cp.float32) * 0.5
        W = rng.standard_normal((d, width), dtype=cp.float32) * 0.05
        dy = rng.standard_normal((rows, d), dtype=cp.float32)
        x = rng.standard_normal((rows, d), dtype=cp.float32) * 0.8
        products = {
            # name: (layout, A, lda, B, ldb, M, N, K, reference, cuBLAS call)
            "y=F.Wt": ("nt", F, width, W, width, rows, d, width, lambda: F.astype(cp.float64) @ W.astype(cp.float64).T, lambda: F @ W.T),
            "dW=dyt.F": ("tn", dy, d, F, width, d, width, rows, lambda: dy.astype(cp.float64).T @ F.astype(cp.float64), lambda: dy.T @ F),
        }
        for pname, (layout, A, lda, B, ldb, M, N, K, ref_fn, blas) in products.items():
            if pname not in args.products:
                continue
            ref = ref_fn()
            scale = float(cp.abs(ref).max())
            blas_ms = event_ms(blas, args.runs)
            blas_err = float(cp.abs(blas().astype(cp.float64) - ref).max()) / scale
            flop = 2.0 * M * N * K
            print(f"\n{shape} {pname} {M}x{K}.{K}x{N} {layout}: cuBLAS fp32 {blas_ms:.4f} ms ({flop / blas_ms / 1e9:.0f} TFLOP/s), error {blas_err:.2e}")
            results.append(dict(shape=shape, product=pname, variant="cuBLAS", ms=blas_ms, error=blas_err))
            for (vname, cubin, log), job in zip(built, jobs):
                if cubin is None:
                    print(f"  {vname}: did not compile\n{log[:2000]}")
                    continue
                depth, stages = macro(job[1], "KAN_TC_STEP"), macro(job[1], "KAN_TC_STAGES")
                regs = {r[0]: r for r in nvrtc_check.kernel_report(log)}
                module = cp.RawModule(path=f"/tmp/kan_tc_{vname}.cubin")
                best = None
                for bm, bn in TILES:
                    if args.tiles and f"{bm}x{bn}" not in args.tiles:
                        continue
                    entry = f"kan_product_tf32x3_{bm}x{bn}_{layout}"
                    fn = module.get_function(entry)
                    wr = 64 if bm * bn >= 8192 else 32
                    threads = (bm // wr) * (bn // 32) * 32
                    shared = ring_bytes(bm, layout[0] == "n", bn, layout[1] == "t", depth, stages)
                    fn.max_dynamic_shared_size_bytes = shared
                    tiles = -(-M // bm) * -(-N // bn)
                    for splits in args.splits:
                        chunk = -(-(K // depth) // splits) * depth
                        if (splits - 1) * chunk >= K or tiles * splits > 8 * 132 * 4:
                            continue
                        C = cp.empty((splits, M, N), dtype=cp.float32)
                        call = lambda: fn((tiles, splits), (threads,), (A, cp.int64(lda), B, cp.int64(ldb), C, cp.int32(M), cp.int32(N), cp.int32(K), cp.int32(chunk)), shared_mem=shared)
                        run = (lambda: (call(), C.sum(axis=0))) if splits > 1 else call
                        ms = event_ms(run, args.runs)
                        out = C.sum(axis=0) if splits > 1 else C[0]
                        err = float(cp.abs(out.astype(cp.float64) - ref).max()) / scale
                        r = regs.get(entry, (entry, 0, 0, 0))
                        row = dict(shape=shape, product=pname, variant=vname, tile=f"{bm}x{bn}", splits=splits, ms=ms, error=err, registers=r[1], spills=r[2])
                        results.append(row)
                        if best is None or ms < best["ms"]:
                            best = row
                if best:
                    print(f"  {vname:<18} best {best['tile']} in {best['splits']}: {best['ms']:.4f} ms ({flop / best['ms'] / 1e9:.0f} TFLOP/s, {blas_ms / best['ms']:.2f}x cuBLAS), "
                          f"error {best['error']:.2e}, {best['registers']} registers, {best['spills']} B spilled")
        # KANLinear's dL/dx (kan_product_input_grad_tf32x3_9): dy . W reduced by the features' derivatives; timed only.
        for (vname, cubin, log), job in zip(built, jobs):
            if cubin is None or "dx" not in args.products:
                continue
            module = cp.RawModule(path=f"/tmp/kan_tc_{vname}.cubin")
            fn = module.get_function("kan_product_input_grad_tf32x3_9")
            shared = ring_bytes(64, True, 16 * 9, False, macro(job[1], "KAN_TC_GRAD_STEP"), macro(job[1], "KAN_TC_GRAD_STAGES"))
            fn.max_dynamic_shared_size_bytes = shared
            gx = cp.empty_like(x)
            blocks = -(-rows // 64) * (d // 16)
            ms = event_ms(lambda: fn((blocks,), (128,), (dy, cp.int32(d), W, x, gx, cp.int32(rows), cp.int32(d), cp.float32(-2.2), cp.float32(2.5)), shared_mem=shared), args.runs)
            r = {r[0]: r for r in nvrtc_check.kernel_report(log)}.get("kan_product_input_grad_tf32x3_9", ("", 0, 0, 0))
            print(f"  {shape} dL/dx {vname:<18} {ms:.4f} ms, {r[1]} registers, {r[2]} B spilled")
            results.append(dict(shape=shape, product="dx", variant=vname, ms=ms, registers=r[1], spills=r[2]))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
