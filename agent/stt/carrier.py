"""Acoustic context for short answers: Whisper hears "Prego, mi dica." first.

Whisper base, given a lone word with nothing around it, often fails to hear it as
Italian at all: "vecchio" comes out as "Thank you!", "quindici" as "qui in richi",
"decimo" as "Da ci mo!". A caller's short answers (a number, a zone, "sì", a letter
of a surname) are exactly that case. A human listener has the question they just
heard; Whisper gets the same help here. A short clip of the offline Italian voice
saying the carrier phrase goes in front of the caller's audio, and its text is
forced as the start of the transcript, so the decoder continues *after* it in
Italian with the answer alone. On the 458 Asterisk Italian prompts of 3 s or less
(or of 3 words or fewer) this cut the word errors from 261 to 178 (docs/speech.md).

The clip is a committed asset (scripts/make-stt-carrier.py rebuilds it), so every
install decodes with the same bytes and nothing is synthesised at start-up.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.stt.base import STTModelError

DATA_DIR = Path(__file__).resolve().parent / "data"
# Neutral, so it biases the answer towards nothing but "Italian speech on this line".
# Measured only for Italian: other languages decode without a carrier.
CARRIER_TEXT = {"it": "Prego, mi dica."}
# Between the carrier and the caller: a breath, so the two do not run together.
GAP_S = 0.3
SAMPLE_RATE = 16000


def carrier_path(language: str) -> Path:
    return DATA_DIR / f"carrier-{language}.wav"


@dataclass(frozen=True)
class Carrier:
    text: str
    audio: np.ndarray  # float32 at 16 kHz, the gap included at its end

    @classmethod
    def load(cls, language: str) -> Carrier | None:
        """The carrier for ``language``; None when the language has none.

        Raises :class:`STTModelError` naming the file when the asset of a language
        that should have one is missing or unreadable (a broken install).
        """
        text = CARRIER_TEXT.get(language)
        if text is None:
            return None
        path = carrier_path(language)
        fix = (
            "reinstall Centralino (the file ships with it), rebuild it with"
            " `python scripts/make-stt-carrier.py`, or set [stt] carrier_max_s = 0"
        )
        if not path.is_file():
            raise STTModelError(f"STT carrier {path} is missing: {fix}")
        try:
            with wave.open(str(path)) as w:
                if w.getframerate() != SAMPLE_RATE or w.getnchannels() != 1:
                    raise STTModelError(
                        f"STT carrier {path} must be 16 kHz mono, got {w.getframerate()} Hz"
                        f" x {w.getnchannels()}: {fix}"
                    )
                pcm = w.readframes(w.getnframes())
        except (wave.Error, EOFError) as exc:
            raise STTModelError(f"STT carrier {path} is not a readable WAV ({exc}): {fix}") from exc
        if len(pcm) < SAMPLE_RATE // 5:
            raise STTModelError(f"STT carrier {path} is empty or truncated: {fix}")
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        gap = np.zeros(int(GAP_S * SAMPLE_RATE), dtype=np.float32)
        return cls(text=text, audio=np.concatenate([audio, gap]))
