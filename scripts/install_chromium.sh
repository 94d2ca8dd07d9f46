#!/usr/bin/env bash
# Installs Debian/Ubuntu's chromium (/usr/bin/chromium) for the browser tests in
# tests/browser/, which drive JupyterLab in it with Playwright. Does nothing if
# it is already there. Never fails the caller: if chromium cannot be installed
# (no apt-get, not root and no sudo, no network), it says so loudly and exits 0;
# the browser tests then skip themselves with the same reason.
set -uo pipefail

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

loud() {
    echo "======================================================================" >&2
    echo "install_chromium.sh: $*" >&2
    echo "The browser tests (tests/browser) will be SKIPPED." >&2
    echo "======================================================================" >&2
    exit 0
}

if [ -x "$CHROMIUM" ]; then
    echo "install_chromium.sh: $CHROMIUM is already installed ($("$CHROMIUM" --version 2>/dev/null | head -n1))"
    exit 0
fi

command -v apt-get >/dev/null 2>&1 || loud "apt-get not found; install chromium by hand so that $CHROMIUM exists."

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    loud "not root and no password-less sudo; run: sudo apt-get install chromium"
fi

export DEBIAN_FRONTEND=noninteractive
echo "install_chromium.sh: installing chromium with apt-get ..."
"${as_root[@]}" apt-get update -q \
    || loud "apt-get update failed (offline?)."
"${as_root[@]}" apt-get install -y -q chromium \
    || loud "apt-get install chromium failed."

[ -x "$CHROMIUM" ] || loud "apt-get installed chromium but $CHROMIUM is missing."
echo "install_chromium.sh: installed $("$CHROMIUM" --version 2>/dev/null | head -n1)"
