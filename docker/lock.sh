#!/usr/bin/env bash
# Regenerate the pinned, hashed requirement locks the images install (run after changing pyproject.toml's
# dependencies; tests/deploy checks the locks still cover every dependency). Needs `uv` (in the deploy extra).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${P2P_IMAGE_PYTHON:-3.12}"
PLATFORM="x86_64-manylinux_2_28"

lock() {
  local out="$1"; shift
  local args=()
  for extra in "$@"; do args+=(--extra "$extra"); done
  uv pip compile pyproject.toml "${args[@]}" --python-version "$PY" --python-platform "$PLATFORM" \
    --generate-hashes --no-header --quiet -o "docker/$out"
  echo "lock: docker/$out (${*})"
}

lock requirements-cpu.txt cpu postgres
lock requirements-gpu.txt gpu postgres
lock requirements-llm.txt cpu postgres llm
