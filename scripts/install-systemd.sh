#!/usr/bin/env bash
# Installs Centralino as services on an office server (run after scripts/install.sh, as root).
# Idempotent: existing secrets and settings in /etc/centralino/centralino.toml are kept.
#
#   /etc/centralino/centralino.toml  config with generated secrets (root:centralino 0640)
#   <checkout>/var                   runtime data (SQLite, recordings, logs), owned by centralino
#   centralino-asterisk.service      Asterisk (root: chroot into the sid root)
#   centralino-agi.service           FastAGI routing (user centralino)
#   centralino-controller.service    ARI controller (user centralino)
#   centralino-admin.service         admin web (user centralino)
set -euo pipefail
cd "$(dirname "$0")/.."
APP_DIR=$(pwd)
CONFIG=/etc/centralino/centralino.toml
UNITS=(centralino-asterisk centralino-agi centralino-controller centralino-admin)
log() { echo "[install-systemd] $*" >&2; }

[[ $(id -u) -eq 0 ]] || { echo "install-systemd.sh must run as root" >&2; exit 1; }
[[ -x .venv/bin/centralino ]] || { echo "run scripts/install.sh first" >&2; exit 1; }

if ! id centralino >/dev/null 2>&1; then
    log "creating system user centralino"
    useradd --system --home-dir "$APP_DIR" --no-create-home --shell /usr/sbin/nologin centralino
fi

install -d -m 0750 -o root -g centralino /etc/centralino
# Generates the secrets the first time, completes missing ones later, never overwrites.
.venv/bin/centralino init --path "$CONFIG"
chown root:centralino "$CONFIG"
chmod 0640 "$CONFIG"

mkdir -p var
chown -R centralino:centralino var
export CENTRALINO_CONFIG=$CONFIG
runuser -u centralino -- .venv/bin/centralino db upgrade

for unit in "${UNITS[@]}"; do
    sed "s#@APP_DIR@#${APP_DIR}#g" "scripts/systemd/${unit}.service" >"/etc/systemd/system/${unit}.service.new"
    mv "/etc/systemd/system/${unit}.service.new" "/etc/systemd/system/${unit}.service"
done

if [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
    systemctl enable "${UNITS[@]/%/.service}"
    systemctl restart centralino-agi.service centralino-asterisk.service
    systemctl restart centralino-controller.service centralino-admin.service || true
    systemctl --no-pager --lines=0 status "${UNITS[@]/%/.service}" || true
    log "services installed; SIP: $(.venv/bin/centralino asterisk status 2>/dev/null | sed -n 2p)"
else
    log "systemd is not running here: units written to /etc/systemd/system, not started"
fi
