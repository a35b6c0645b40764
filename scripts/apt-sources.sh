#!/usr/bin/env bash
# Enables Debian's non-free component (the pico2wave Italian voice, libttspico-utils,
# lives there) on the host's main Debian sources. Idempotent; run as root.
# Handles both the deb822 format (/etc/apt/sources.list.d/debian.sources) and the
# classic one-line /etc/apt/sources.list. Non-Debian hosts are left untouched.
set -euo pipefail

log() { echo "[apt-sources] $*" >&2; }

[[ -r /etc/os-release ]] && . /etc/os-release
if [[ "${ID:-}" != "debian" ]]; then
    log "not a Debian host (${ID:-unknown}); nothing to do"
    exit 0
fi

changed=0

# deb822: add "non-free" to every Components: line of a stanza whose URIs point to
# a Debian archive (deb.debian.org, security.debian.org, snapshot mirrors...).
for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    grep -qiE '^URIs:.*debian' "$f" || continue
    tmp=$(mktemp)
    awk '
        BEGIN { RS=""; ORS="\n\n" }
        {
            if ($0 ~ /(^|\n)URIs:[^\n]*debian/ && $0 ~ /(^|\n)Components:/) {
                n = split($0, lines, "\n"); out = ""
                for (i = 1; i <= n; i++) {
                    l = lines[i]
                    if (l ~ /^Components:/ && l !~ /(^|[ \t])non-free([ \t]|$)/) l = l " non-free"
                    out = out (i > 1 ? "\n" : "") l
                }
                print out
            } else print
        }' "$f" > "$tmp"
    if ! cmp -s "$f" "$tmp"; then
        cat "$tmp" > "$f"
        changed=1
        log "enabled non-free in $f"
    fi
    rm -f "$tmp"
done

# Classic sources.list: "deb URI suite main [contrib]" lines for Debian archives.
if [[ -f /etc/apt/sources.list ]]; then
    tmp=$(mktemp)
    sed -E '/^[[:space:]]*deb(-src)?[[:space:]].*debian.*[[:space:]]main([[:space:]]|$)/{/[[:space:]]non-free([[:space:]]|$)/!s/$/ non-free/}' \
        /etc/apt/sources.list > "$tmp"
    if ! cmp -s /etc/apt/sources.list "$tmp"; then
        cat "$tmp" > /etc/apt/sources.list
        changed=1
        log "enabled non-free in /etc/apt/sources.list"
    fi
    rm -f "$tmp"
fi

if (( changed )); then
    apt-get update -qq || log "apt-get update failed; run it by hand"
fi
exit 0
