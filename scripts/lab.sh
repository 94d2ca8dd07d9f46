#!/usr/bin/env bash
# Sets up .venv (first run only) and opens the course in JupyterLab, on this
# machine only (127.0.0.1), with Jupyter's token authentication left on:
# the URL it prints contains the token.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
exec .venv/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$PWD" \
    --LabApp.news_url=None "$@" notebooks/00_start_here.ipynb
