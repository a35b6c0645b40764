#!/usr/bin/env bash
# Idempotent Asterisk installer.
#
# Asterisk is not packaged in Debian 12/13. We use a system Asterisk when one
# >= 22.6 is present (chan_websocket needs 22.6), otherwise we build a Debian sid
# root once with debootstrap (cached outside the repo) and run Asterisk from it
# with chroot. The root also carries SIPp (sip-tester) and the Italian prompts
# (asterisk-core-sounds-it*) that the tests and the simulated caller use.
#
# Prints the Asterisk prefix ("/" or the root path) on its last line.
set -euo pipefail

ROOT="${CENTRALINO_ASTERISK_ROOT:-/var/cache/centralino/asterisk-sid}"
PACKAGES="asterisk,asterisk-modules,asterisk-core-sounds-it-wav,asterisk-core-sounds-it,asterisk-core-sounds-en-wav,sip-tester,ca-certificates"
STAMP_VERSION="2:${PACKAGES}"

log() { echo "[install-asterisk] $*" >&2; }

version_ok() {
    # $1: "22.10.1" etc.; true when >= 22.6
    local major minor
    major=${1%%.*}; minor=${1#*.}; minor=${minor%%.*}
    [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
    (( major > 22 || (major == 22 && minor >= 6) ))
}

if [[ "${CENTRALINO_ASTERISK_FORCE_ROOT:-0}" != 1 ]] && command -v asterisk >/dev/null 2>&1; then
    v=$(asterisk -V 2>/dev/null | awk '{print $2}')
    if version_ok "$v"; then
        log "using system Asterisk $v"
        echo "/"
        exit 0
    fi
    log "system Asterisk $v is older than 22.6; using a Debian sid root"
fi

# Without the host name in the root's /etc/hosts every call waits on DNS look-ups;
# the host may have been renamed since the root was built (e.g. a Vagrant box).
ensure_hosts() {
    local root=$1 host
    host=$(hostname)
    if ! grep -qE "^127\.0\.0\.1[[:space:]].*[[:space:]]${host}([[:space:]]|$)" "$root/etc/hosts" 2>/dev/null; then
        printf '127.0.0.1 localhost %s\n::1 localhost ip6-localhost\n' "$host" >"$root/etc/hosts"
    fi
}

if [[ -f "$ROOT/.centralino-ready" && "$(cat "$ROOT/.centralino-ready")" == "$STAMP_VERSION" ]]; then
    if [[ $(id -u) -eq 0 ]]; then ensure_hosts "$ROOT"; fi
    log "Asterisk root ready at $ROOT ($(chroot "$ROOT" asterisk -V 2>/dev/null))"
    echo "$ROOT"
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    echo "install-asterisk.sh: building the Asterisk root needs root (debootstrap, chroot)" >&2
    exit 1
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

# The mirror this machine already uses (the only one reachable in closed networks).
MIRROR="${CENTRALINO_DEBIAN_MIRROR:-}"
if [[ -z "$MIRROR" ]]; then
    MIRROR=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
        | grep -oE 'https?://[^ ]+' | grep -v security | head -n1 || true)
fi
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

# A root left half-built by an interrupted run must never be reused.
TMP="${ROOT}.partial"
if [[ -d "$TMP" ]]; then
    for m in proc dev/pts sys; do umount "$TMP/$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$TMP"
fi
mkdir -p "$(dirname "$ROOT")"
log "debootstrap sid from $MIRROR into $TMP (about 70 s, 600 MB)"
debootstrap --variant=minbase --include="$PACKAGES" sid "$TMP" "$MIRROR" >"${ROOT}.debootstrap.log" 2>&1 || {
    echo "install-asterisk.sh: debootstrap failed, see ${ROOT}.debootstrap.log" >&2
    tail -n 20 "${ROOT}.debootstrap.log" >&2
    exit 1
}

ensure_hosts "$TMP"
# Asterisk's packaged configs are not used (we render our own); keep the root lean.
chroot "$TMP" asterisk -V >/dev/null

if [[ -d "$ROOT" ]]; then
    for m in proc dev/pts sys; do umount "$ROOT/$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$ROOT"
fi
mv "$TMP" "$ROOT"
echo "$STAMP_VERSION" >"$ROOT/.centralino-ready"
log "Asterisk root ready at $ROOT ($(chroot "$ROOT" asterisk -V))"
echo "$ROOT"
