#!/usr/bin/env bash
# Installs whatever is missing for `make run` and `make test`; safe to run again.
# Steps: Debian packages -> Python virtualenv -> Asterisk (system or sid root) -> area installers.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[install] $*" >&2; }
SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
# CI has no stdin and no terminal: nothing may prompt.
export DEBIAN_FRONTEND=noninteractive
# Each step logs how long it took (the numbers in docs/ci.md come from these lines).
step_start=$SECONDS
step_done() { log "$1 took $((SECONDS - step_start)) s"; step_start=$SECONDS; }

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
    # Retries: a fresh CI machine downloads ~250 MB; one dropped connection must not fail CI.
    $SUDO apt-get -o Acquire::Retries=3 update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=3 install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
fi
step_done "Debian packages"

# --- Python ----------------------------------------------------------------
# Python >= 3.11: $PYTHON, else python3 on PATH, else pyenv's 3.11 (CI may run us with a
# PATH without pyenv's shims), else Debian's python3.11 (needs python3-venv, listed in
# scripts/apt-packages.txt).
py_ok() { [[ -n $1 ]] && command -v "$1" >/dev/null 2>&1 && "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
pick_python() {
    local c
    for c in "${PYTHON:-}" python3 "${HOME:-/root}"/.pyenv/versions/3.11*/bin/python3 python3.11 /usr/bin/python3; do
        if py_ok "$c"; then echo "$c"; return 0; fi
    done
    return 1
}
if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c 'import sys' 2>/dev/null; then
    PY=$(pick_python) || { echo "install.sh: no Python >= 3.11 found (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
    log "creating .venv with $PY ($("$PY" -V 2>&1))"
    rm -rf .venv
    "$PY" -m venv .venv || { echo "install.sh: '$PY -m venv' failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
stamp=.venv/.centralino-installed
if [[ ! -f $stamp || setup.cfg -nt $stamp || pyproject.toml -nt $stamp ]]; then
    log "pip install -e .[test]"
    .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
    .venv/bin/pip install -q -e '.[test]'
    touch $stamp
fi
step_done "Python virtualenv"

# --- Asterisk --------------------------------------------------------------
prefix=$(bash scripts/install-asterisk.sh | tail -n1)
mkdir -p var
echo "$prefix" > var/asterisk-prefix
step_done "Asterisk ($prefix)"

# --- Per-area installers (models, voices, browser) --------------------------
for step in scripts/install.d/*.sh; do
    [[ -e "$step" ]] || continue
    log "running $step"
    bash "$step" </dev/null
    step_done "$step"
done
log "done"
