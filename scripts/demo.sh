#!/usr/bin/env bash
# Set up and run the main job on embedded defaults: venv + runtime packages, a private Redis, SQLite, the local LLM,
# the bundled models; then submit the sample photos through the API, print the captions, and stop everything.
set -euo pipefail
cd "$(dirname "$0")/.."
P2P_EXTRAS="${P2P_EXTRAS:-cpu,llm,dev}" bash scripts/setup.sh
. "${P2P_VENV:-.venv}/bin/activate"
# the sample photos ship inside the ultralytics package; --no-deps keeps torch out of the runtime venv
python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('ultralytics') is None)" \
  || pip install -q --no-deps ultralytics
mapfile -t samples < <(python -c "from shared.samples import sample_images; print(*sample_images(), sep='\n')")
[ $# -gt 0 ] && samples=("$@")

pixels2posts up
trap 'pixels2posts down' EXIT
pixels2posts doctor || true
pixels2posts submit --wait --json "${samples[@]}"
