#!/usr/bin/env bash
# Runs the packed GPU bench (see pack.mjs): bash .gpubench/run.sh OUTDIR [--small] [--presets ...] [--llama ...]
# Needs only glibc, python3 or xz (to unpack Node) and a GPU driver with Vulkan; writes OUTDIR/gpu-bench.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-.}"; shift || true
mkdir -p "$out" /tmp/gpubench
if command -v xz >/dev/null; then xz -dc "$here/node.xz" > /tmp/gpubench/node
else python3 -c "import lzma,sys,shutil; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" "$here/node.xz" /tmp/gpubench/node; fi
chmod +x /tmp/gpubench/node
gzip -dc "$here/dawn.node.gz" > /tmp/gpubench/dawn.node
# Dawn dlopens libvulkan.so.1: the system's if there is one, else the carried loader
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 ' || export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json; do
    [ -f "$f" ] && export VK_ICD_FILENAMES="$f" && break
  done
fi
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ]; then
  echo "no GPU Vulkan driver found; using Chromium's SwiftShader (CPU) to prove the carry" >&2
  export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
fi
echo "Vulkan ICD: ${VK_ICD_FILENAMES:-(loader default)}" >&2
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/nvidia-smi.csv" || true
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
DAWN_NODE=/tmp/gpubench/dawn.node /tmp/gpubench/node --max-old-space-size=16384 "$here/bench.mjs" --out "$out/gpu-bench.json" "$@"
