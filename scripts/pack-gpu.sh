#!/usr/bin/env bash
# Packs ukan for a Linux GPU machine that has no .NET: the app built without the CPU libtorch binaries (the machine's
# own PyTorch provides a CUDA libtorch, see docs/gpu.md) plus a copy of the .NET runtime, as one tar.xz.
# Usage: scripts/pack-gpu.sh [OUTPUT.tar.xz]      (default: .gpu/ukan-gpu.tar.xz)
# On the GPU machine:  mkdir -p /tmp/ukan && tar -xJf ukan-gpu.tar.xz -C /tmp/ukan && /tmp/ukan/ukan info
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/.gpu/ukan-gpu.tar.xz}"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

# Build from a copy of the sources so that this restore (another RID, no CPU libtorch) never touches the
# developer's obj/ folders.
mkdir -p "$stage/src"
cp "$root/Directory.Build.props" "$root/Directory.Build.targets" "$root/Directory.Packages.props" "$root/global.json" "$stage/src/"
tar -C "$root" --exclude=bin --exclude=obj -cf - src | tar -C "$stage/src" -xf -
dotnet publish "$stage/src/src/UKan.Cli/UKan.Cli.csproj" -c Release -r linux-x64 --self-contained false \
  -p:UKanNoCpuLibTorch=true -o "$stage/app" -nologo -v q -clp:ErrorsOnly
# Nothing of the CPU libtorch may travel (hundreds of MB); fail loudly if a dependency brought it back.
if ls "$stage/app" | grep -qE '^libtorch_cpu\.so$'; then echo "pack-gpu: CPU libtorch leaked into the bundle" >&2; exit 1; fi
# ONNX Runtime's package copies its Windows DLL next to the Linux library even for linux-x64 (17 MB of nothing here).
rm -f "$stage/app/onnxruntime.dll"
# PACK_NO_ONNX=1: ONNX Runtime's library (29 MB, ~7 MB packed) left out, for calls that train and plot only and must
# fit the 64 MiB transfer beside the working tree (`ukan export --check` and `bench onnx` then say it is missing).
[ "${PACK_NO_ONNX:-0}" = 1 ] && rm -f "$stage/app/libonnxruntime.so"

dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
fx="$(ls -d "$dotnet_root"/shared/Microsoft.NETCore.App/10.* | sort -V | tail -1)"
# ukan serve runs on ASP.NET Core's shared framework (the app will not start without it).
aspnet="$(ls -d "$dotnet_root"/shared/Microsoft.AspNetCore.App/10.* | sort -V | tail -1)"
hostfxr="$(ls -d "$dotnet_root"/host/fxr/10.* | sort -V | tail -1)"
mkdir -p "$stage/dotnet/shared/Microsoft.NETCore.App" "$stage/dotnet/shared/Microsoft.AspNetCore.App" "$stage/dotnet/host/fxr"
cp "$dotnet_root/dotnet" "$stage/dotnet/"
cp -r "$fx" "$stage/dotnet/shared/Microsoft.NETCore.App/"
cp -r "$aspnet" "$stage/dotnet/shared/Microsoft.AspNetCore.App/"
cp -r "$hostfxr" "$stage/dotnet/host/fxr/"
# The runtime's debugger and crash-dump support (~4 MB, ~1.3 MB packed): not needed to run, and the bundle must fit
# the 64 MiB transfer beside the working tree.
rm -f "$stage"/dotnet/shared/Microsoft.NETCore.App/*/{libmscordaccore.so,libmscordbi.so,createdump}

cat > "$stage/ukan" <<'LAUNCH'
#!/usr/bin/env bash
# ukan on a machine without .NET: uses the bundled runtime; GPU through the installed PyTorch (auto-detected).
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
export DOTNET_ROOT="$here/dotnet"
# Both malloc settings, added to the caller's GLIBC_TUNABLES (other tunables kept, these two replaced).
if [[ "${UKAN_DEFAULT_MALLOC:-0}" != 1 ]]; then
  tunables=()
  IFS=: read -ra parts <<< "${GLIBC_TUNABLES:-}"
  for p in "${parts[@]}"; do
    [[ -n "$p" && "$p" != glibc.malloc.mmap_threshold=* && "$p" != glibc.malloc.trim_threshold=* ]] && tunables+=("$p")
  done
  tunables+=(glibc.malloc.mmap_threshold=4294967296 glibc.malloc.trim_threshold=68719476736)
  GLIBC_TUNABLES="$(IFS=:; echo "${tunables[*]}")"
  export GLIBC_TUNABLES
fi
exec "$here/app/ukan" "$@"
LAUNCH
chmod +x "$stage/ukan"

mkdir -p "$(dirname "$out")"
tar -C "$stage" --exclude=./src -cf - . | xz -T0 -6 > "$out.tmp" && mv "$out.tmp" "$out"
echo "packed $(du -h "$out" | cut -f1) -> $out (app $(du -sh "$stage/app" | cut -f1), runtime $(du -sh "$stage/dotnet" | cut -f1))"
