#!/usr/bin/env bash
# Creates .venv (once) and installs the requirements file given as $1
# (requirements.txt by default) plus the gpt_course package in editable mode.
# Re-runs pip only when a requirements file or pyproject.toml has changed.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=${1:-requirements.txt}
python=${PYTHON:-python3}

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "The course needs Python 3.10 or newer; '$python' is $("$python" --version 2>&1)." >&2
    echo "Install a newer Python, or point PYTHON at one: PYTHON=python3.11 bash $0" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $("$python" --version)"
    "$python" -m venv .venv
fi
stamp=".venv/.installed-$(basename "$requirements")"
wanted=$(cat requirements*.txt pyproject.toml | sha256sum | cut -d' ' -f1)
installed() { [ "$(cat ".venv/.installed-$1" 2>/dev/null)" = "$wanted" ]; }
# requirements-test.txt includes requirements.txt: a .venv the tests set up
# already has all the lab needs (and the lab then starts offline too).
if ! installed "$(basename "$requirements")" \
    && ! { [ "$(basename "$requirements")" = requirements.txt ] && installed requirements-test.txt; }; then
    # (the sed drops a harmless warning some pip configurations print per package)
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements" \
        2>&1 | sed '/neither a file nor a directory/d'
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e . \
        2>&1 | sed '/neither a file nor a directory/d'
    echo "$wanted" > "$stamp"
fi
# JupyterLab asks about fetching news on first start; the course answers "no"
# (no pop-up, and no request to the network).
settings=.venv/share/jupyter/lab/settings
if [ ! -f "$settings/overrides.json" ]; then
    mkdir -p "$settings"
    echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}' > "$settings/overrides.json"
fi
