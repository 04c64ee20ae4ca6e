#!/usr/bin/env bash
# Creates .venv with the CPU build of torch, unfreeze and its built-in plugins (editable).
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,peft,real]" \
  -e plugins/unfreeze-selectors -e plugins/unfreeze-madx -e plugins/unfreeze-lora -e plugins/unfreeze-fisher -e plugins/unfreeze-mdeberta \
  -e plugins/unfreeze-ray -e plugins/unfreeze-slurm -e plugins/unfreeze-peft \
  -e plugins/unfreeze-full -e plugins/unfreeze-lightning
