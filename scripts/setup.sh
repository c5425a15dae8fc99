#!/usr/bin/env bash
# Create .venv and install pixels2posts with the extras named in P2P_EXTRAS. Idempotent: it re-installs only when
# pyproject.toml or the extras changed. On a bare Debian 12 run as root it first installs what pip cannot
# (python3-venv, a C/C++ toolchain for llama-cpp-python).
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${P2P_EXTRAS:-cpu,postgres,mask,llm,train,deploy,dev}"
VENV="${P2P_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

need_apt=()
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv python3-dev)
command -v gcc >/dev/null || need_apt+=(build-essential)
command -v cmake >/dev/null || need_apt+=(cmake)
# WordNet 3.0 for METEOR's synonym stage (pixels2posts/evaluation/lexical.py); nltk cannot download it offline
[[ ",$EXTRAS," != *",dev,"* || -f /usr/share/wordnet/data.noun ]] || need_apt+=(wordnet-base)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${need_apt[*]} with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: please install ${need_apt[*]} (Debian package names) and run again" >&2
    exit 1
  fi
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
stamp="$VENV/.p2p-installed"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)-$EXTRAS"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$VENV/bin/pip" install -q -U pip wheel
  # torch/torchvision pins first: pip then finds them satisfied instead of resolving a different build
  if [[ ",$EXTRAS," == *",train,"* ]]; then
    "$VENV/bin/pip" install -q torch==2.14.1 torchvision==0.29.1
  fi
  # llama-cpp-python builds from source: portable flags, and pip's wheel cache keeps the build for next time
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" "$VENV/bin/pip" install -q -e ".[$EXTRAS]"
  echo "$want" > "$stamp"
fi
echo "setup: $VENV ready with extras [$EXTRAS]"
