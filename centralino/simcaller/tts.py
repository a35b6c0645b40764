"""Offline Italian speech for text utterances of a caller script.

The simulated caller lives in ``centralino`` which never imports ``agent``, so it
runs an offline synthesiser (pico2wave if present, else espeak-ng) directly.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from centralino.simcaller.audio import AudioError, load_8k


class SynthesisError(AudioError):
    pass


def available_engine() -> str | None:
    for engine in ("pico2wave", "espeak-ng"):
        if shutil.which(engine):
            return engine
    return None


def synthesize(text: str, language: str = "it") -> np.ndarray:
    """Speak ``text`` with an offline voice; 8 kHz int16 samples."""
    if not text.strip():
        raise SynthesisError("empty text utterance")
    engine = available_engine()
    if engine is None:
        raise SynthesisError(
            "no offline voice to speak text utterances: install espeak-ng "
            "(scripts/apt-packages.txt) or use WAV utterances"
        )
    with tempfile.TemporaryDirectory(prefix="simcaller-tts-") as tmp:
        out = Path(tmp) / "speech.wav"
        if engine == "pico2wave":
            lang = {"it": "it-IT", "en": "en-US"}.get(language, language)
            cmd = ["pico2wave", "-l", lang, "-w", str(out), text]
        else:
            cmd = ["espeak-ng", "-v", language, "-s", "150", "-w", str(out), text]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            stderr = getattr(exc, "stderr", b"") or b""
            raise SynthesisError(
                f"{engine} failed for {text[:40]!r}: {stderr.decode(errors='replace').strip()}"
            ) from exc
        return load_8k(out)
