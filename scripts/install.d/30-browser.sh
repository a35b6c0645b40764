#!/usr/bin/env bash
# Headless browser for the admin's browser tests (tests/admin/test_browser.py):
# Debian's chromium + chromium-driver, driven by the Python playwright package
# with executable_path=/usr/bin/chromium. No browser is ever downloaded
# (`playwright install` is never run: only the driver in the wheel is used).
# Idempotent; run as root (scripts/install.sh runs it).
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { echo "[browser] $*" >&2; }
SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"

missing=()
for p in chromium chromium-driver; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
    log "apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
[[ -x /usr/bin/chromium ]] || { log "/usr/bin/chromium missing after install"; exit 1; }

PY=${PYTHON:-.venv/bin/python}
if [[ -x $PY ]] && ! "$PY" -c "import playwright" 2>/dev/null; then
    # Normally installed by `pip install -e .[test]`; this covers a venv made without it.
    log "pip install playwright"
    "$PY" -m pip install -q "playwright>=1.40"
fi
log "chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}') ready"
