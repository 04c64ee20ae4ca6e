#!/usr/bin/env bash
# The GPU numbers (issue 12) in one go on a GPU machine whose image has other library versions:
# installs the carried wheels (.whl/, see docs/benchmarks.md) and this tree into /tmp/site, then runs
# bench/gpu_suite.py. Results: $OUT/gpu-results.md (+ JSON per step). At most about 9 minutes (the suite stops starting steps after 530 s).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
fi
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir --upgrade \
  --target /tmp/site . plugins/unfreeze-selectors plugins/unfreeze-madx plugins/unfreeze-lora \
  plugins/unfreeze-fisher plugins/unfreeze-mdeberta || exit 1
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | tee "$OUT/gpu.txt"
python3 bench/gpu_suite.py --out "$OUT" "$@"
