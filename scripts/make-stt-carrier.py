#!/usr/bin/env python3
"""Rebuild agent/stt/data/carrier-it.wav, the acoustic context Whisper hears before a
short answer (agent/stt/carrier.py).

Made once with the offline Italian voice and committed, so every install decodes
with the same bytes: SVOX Pico (Debian ``libttspico-utils``) says the carrier
phrase, the audio goes through the telephone band (16 kHz -> 8 kHz -> 16 kHz, as a
caller's G.711 audio reaches Whisper) and the silence around it is trimmed.

    python scripts/make-stt-carrier.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.stt.carrier import CARRIER_TEXT, carrier_path  # noqa: E402


def main() -> int:
    language = sys.argv[1] if len(sys.argv) > 1 else "it"
    voice = {"it": "it-IT"}[language]
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "carrier.wav"
        text = CARRIER_TEXT[language]
        subprocess.run(["pico2wave", "-l", voice, "-w", str(wav), text], check=True)
        with wave.open(str(wav)) as w:
            rate = w.getframerate()
            audio = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
    audio = soxr.resample(soxr.resample(audio, rate, 8000), 8000, 16000)
    loud = np.nonzero(np.abs(audio) > 0.01)[0]
    audio = audio[loud[0] : loud[-1] + 1]
    out = carrier_path(language)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    print(f"wrote {out} ({len(audio) / 16000:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
