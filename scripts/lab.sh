#!/usr/bin/env bash
# Sets up .venv (first run only) and opens the course in JupyterLab, on this
# machine only (127.0.0.1), with Jupyter's token authentication left on:
# the URL it prints contains the token.
#   bash scripts/lab.sh        opens notebooks/00_start_here.ipynb
#   bash scripts/lab.sh zh     opens the Chinese edition, notebooks/zh/00_start_here.ipynb
# Other arguments go to JupyterLab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
start=notebooks/00_start_here.ipynb
if [ "${1:-}" = zh ]; then
    start=notebooks/zh/00_start_here.ipynb
    shift
fi
extra=()
if [ "$(id -u)" = 0 ]; then
    # Containers, cloud VMs and WSL often log you in as root, and JupyterLab
    # then refuses to start ("Running as root is not recommended") unless told.
    echo "lab.sh: you are root here (common in containers, cloud VMs and WSL), so JupyterLab starts with --allow-root; it still listens on 127.0.0.1 only and asks for its token." >&2
    extra+=(--allow-root)
fi
# ${extra[@]+...}: an empty array is an error under `set -u` in macOS's bash 3.2.
exec .venv/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$PWD" \
    --LabApp.news_url=None ${extra[@]+"${extra[@]}"} "$@" "$start"
