#!/usr/bin/env bash
# Installs Debian/Ubuntu's chromium (/usr/bin/chromium) for the browser tests in
# tests/browser/, which drive JupyterLab in it with Playwright, and a font with
# Chinese glyphs (notebooks 00 and 02 quote Chinese terms) so the screenshots
# show them instead of empty boxes. Does nothing if both are there. Never fails
# the caller: if chromium cannot be installed (no apt-get, not root and no sudo,
# no network), it says so loudly and exits 0; the browser tests then skip
# themselves with the same reason. A missing font only gets a note.
set -uo pipefail

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
FONT_PACKAGE=fonts-wqy-zenhei

loud() {
    echo "======================================================================" >&2
    echo "install_chromium.sh: $*" >&2
    echo "The browser tests (tests/browser) will be SKIPPED." >&2
    echo "======================================================================" >&2
    exit 0
}

# Without chromium the browser tests cannot run (loud); without the font they
# run, and only the screenshots lack the Chinese glyphs (a note).
fail() {
    if [ -x "$CHROMIUM" ]; then
        echo "install_chromium.sh: note: $* ($FONT_PACKAGE not installed; screenshots show boxes for Chinese text)" >&2
        exit 0
    fi
    loud "$*"
}

has_chromium() { [ -x "$CHROMIUM" ]; }
has_cjk_font() { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null)" ]; }

packages=()
has_chromium || packages+=(chromium)
has_cjk_font || packages+=("$FONT_PACKAGE")
if [ ${#packages[@]} -eq 0 ]; then
    echo "install_chromium.sh: $CHROMIUM is already installed ($("$CHROMIUM" --version 2>/dev/null | head -n1)), with a Chinese font"
    exit 0
fi

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found; install ${packages[*]} by hand."

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    fail "not root and no password-less sudo; run: sudo apt-get install ${packages[*]}"
fi

export DEBIAN_FRONTEND=noninteractive
echo "install_chromium.sh: installing ${packages[*]} with apt-get ..."
"${as_root[@]}" apt-get update -q \
    || fail "apt-get update failed (offline?)."
"${as_root[@]}" apt-get install -y -q "${packages[@]}" \
    || fail "apt-get install ${packages[*]} failed."

has_chromium || loud "apt-get installed chromium but $CHROMIUM is missing."
echo "install_chromium.sh: ready: $("$CHROMIUM" --version 2>/dev/null | head -n1)$(has_cjk_font && echo ', with a Chinese font')"
