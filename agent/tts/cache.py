"""On-disk cache of synthesized fixed phrases (greeting, questions).

Fixed phrases are synthesized once per voice and then start instantly and cost
nothing. Keys hash the voice settings and the text; the audio is a WAV file, the
provider that made it is kept in a sidecar so the turn record stays truthful.
Only audio from the voice's *preferred* provider is stored: a greeting spoken by
the offline fallback during an ElevenLabs outage must not replace the real voice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from agent.audio import WavError, read_wav, wav_bytes
from agent.tts.base import Speech, TTSProvider, Voice
from agent.tts.text import normalize_space
from agent.tts.usage import TTSUsage

log = logging.getLogger(__name__)


def cache_key(text: str, voice: Voice) -> str:
    payload = json.dumps(
        {
            "text": normalize_space(text),
            "provider": voice.provider,
            "voice_id": voice.voice_id,
            "stability": voice.stability,
            "similarity": voice.similarity,
            "language": voice.language,
            "extra": voice.extra,
        },
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class CachedTTS:
    """Wraps a provider (usually the fallback chain). Implements ``TTSProvider``."""

    def __init__(self, inner: TTSProvider, cache_dir: Path, usage: TTSUsage | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.cache_dir = Path(cache_dir)
        self.usage = usage
        self._fixed: set[str] = set()
        self.hits = 0
        self.misses = 0

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.cache_dir / key[:2]
        return folder / f"{key}.wav", folder / f"{key}.json"

    def is_fixed(self, text: str) -> bool:
        return normalize_space(text) in self._fixed

    def mark_fixed(self, texts: Iterable[str]) -> None:
        """Declare ``texts`` fixed phrases: stored on disk the first time they are made."""
        self._fixed.update(normalize_space(t) for t in texts if t.strip())

    async def warm(self, texts: Iterable[str], voice: Voice, tenant_id: int | None) -> int:
        """Mark ``texts`` as fixed phrases and synthesize the missing ones now."""
        made = 0
        for text in texts:
            if not text.strip():
                continue
            self._fixed.add(normalize_space(text))
            if await asyncio.to_thread(self._load, cache_key(text, voice)) is None:
                await self.synthesize(text, voice, tenant_id)
                made += 1
        return made

    async def synthesize(self, text: str, voice: Voice, tenant_id: int | None) -> Speech:
        key = cache_key(text, voice)
        hit = await asyncio.to_thread(self._load, key)
        if hit is not None:
            self.hits += 1
            pcm, provider = hit
            if self.usage is not None:
                self.usage.record(provider, tenant_id, len(text), cached=True)
            # chars=0: nothing was billed for this turn.
            return Speech(pcm=pcm, provider=provider, chars=0, cached=True)
        self.misses += 1
        speech = await self.inner.synthesize(text, voice, tenant_id)
        preferred = speech.provider.split(":")[0] == voice.provider
        if self.is_fixed(text) and preferred:
            await asyncio.to_thread(self._store, key, speech, text)
        return speech

    def _load(self, key: str) -> tuple[bytes, str] | None:
        wav, meta = self._paths(key)
        if not (wav.exists() and meta.exists()):
            return None
        try:
            provider = json.loads(meta.read_text(encoding="utf-8"))["provider"]
            pcm, _ = read_wav(wav)
        except (OSError, ValueError, KeyError, WavError) as exc:
            log.warning("dropping unreadable TTS cache entry %s: %s", wav, exc)
            wav.unlink(missing_ok=True)
            meta.unlink(missing_ok=True)
            return None
        return pcm, str(provider)

    def _store(self, key: str, speech: Speech, text: str) -> None:
        wav, meta = self._paths(key)
        wav.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a concurrent reader never sees half a file.
        for path, data in (
            (wav, wav_bytes(speech.pcm)),
            (meta, json.dumps({"provider": speech.provider, "text": text}).encode("utf-8")),
        ):
            tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
