"""Speech-to-text interface used by the voice pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class STTError(RuntimeError):
    """A transcription failed (the turn is treated as not understood)."""


class STTModelError(STTError):
    """The model is missing or unusable: raised at start-up, never mid-call.

    The message names the file and says how to fix it.
    """


@dataclass(frozen=True)
class Transcript:
    text: str  # "" when nothing usable was said (silence, noise, hallucination)
    confidence: float | None  # exp(mean token log-probability), 0..1
    provider: str  # e.g. "whisper:base"
    audio_s: float
    compute_ms: float
    no_speech_prob: float | None = None
    path: str = "standard"  # "fast" (short encoder window) | "standard"
    dropped: str = ""  # why a decoded text was discarded (hallucination, no speech)


class STTProvider(Protocol):
    name: str

    async def transcribe(self, pcm: bytes, prompt: str = "", *, busy: bool = False) -> Transcript:
        """Transcribe slin16 audio; ``prompt`` biases vocabulary (tenant zones, words).

        ``busy``: other transcriptions wait behind this one, so the provider may give
        up an accuracy extra that costs time (Whisper skips its carrier phrase)."""
        ...
