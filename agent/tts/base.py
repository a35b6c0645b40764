"""Text-to-speech provider interface. A fallback chain is itself a provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class TTSError(RuntimeError):
    """A provider could not synthesize; the chain moves on to the next one."""


@dataclass(frozen=True)
class Voice:
    """Per-tenant voice settings (from Tenant.voice)."""

    provider: str = "offline"
    voice_id: str = ""
    stability: float = 0.5
    similarity: float = 0.75
    language: str = "it"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Speech:
    """Synthesized audio: slin16 (16 kHz, s16le, mono)."""

    pcm: bytes
    provider: str
    chars: int
    cached: bool = False

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 32000


class TTSProvider(Protocol):
    name: str

    async def synthesize(self, text: str, voice: Voice, tenant_id: int | None) -> Speech:
        """Return the whole utterance; raise TTSError on failure."""
        ...
