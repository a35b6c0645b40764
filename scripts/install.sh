#!/usr/bin/env bash
# Installs whatever is missing for `make run` and `make test`; safe to run again.
# Steps: Debian packages -> Python virtualenv -> Asterisk (system or sid root) -> area installers.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[install] $*" >&2; }
SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"

# --- Debian packages -------------------------------------------------------
mapfile -t wanted < <(sed -e 's/#.*//' -e '/^\s*$/d' scripts/apt-packages.txt | awk '{print $1}')
missing=()
for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
    # Some voices are in non-free (pico2wave); enable the component on Debian hosts.
    if [[ -f scripts/apt-sources.sh ]]; then $SUDO bash scripts/apt-sources.sh; fi
    log "apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Python ----------------------------------------------------------------
PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    log "creating .venv"
    $PY -m venv .venv
fi
stamp=.venv/.centralino-installed
if [[ ! -f $stamp || setup.cfg -nt $stamp || pyproject.toml -nt $stamp ]]; then
    log "pip install -e .[test]"
    .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
    .venv/bin/pip install -q -e '.[test]'
    touch $stamp
fi

# --- Asterisk --------------------------------------------------------------
prefix=$(bash scripts/install-asterisk.sh | tail -n1)
mkdir -p var
echo "$prefix" > var/asterisk-prefix

# --- Per-area installers (models, voices, browser) --------------------------
for step in scripts/install.d/*.sh; do
    [[ -e "$step" ]] || continue
    log "running $step"
    bash "$step"
done
log "done"
