#!/usr/bin/env bash
# The CUDA rows of docs/performance.md: bench/vision_profile.py with P2P_ORT_PROVIDERS=cuda (a session that ONNX
# Runtime puts on the CPU instead is an error, not a slow row), GPU utilisation sampled once a second alongside.
#   bash bench/cuda_profile.sh IMAGES_DIR OUT_DIR [LAYOUTS]
# Needs onnxruntime-gpu (the `gpu` extra) with its CUDA and cuDNN libraries on the library path, and nvidia-smi.
set -euo pipefail
images=$1 out=$2 layouts=${3:-2x1,4x1,8x1,4x3}
python=${PYTHON:-python3}
mkdir -p "$out"
{
  "$python" -c 'import onnxruntime as o; print("onnxruntime", o.__version__, o.get_available_providers())'
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
  echo "CPUs: $(nproc); $(date -u)"
} | tee "$out/machine.txt"
nvidia-smi dmon -s u -d 1 >"$out/gpu-utilisation.txt" 2>&1 &
dmon=$!
trap 'kill $dmon 2>/dev/null || true' EXIT
P2P_ORT_PROVIDERS=cuda PYTHONUNBUFFERED=1 "$python" bench/vision_profile.py --images "$images" --count 256 \
  --batch 32 --layouts "$layouts" --repeats 3 2>&1 | tee "$out/vision_profile.txt"
