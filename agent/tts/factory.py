"""Builds the product's TTS stack from configuration: cache -> ElevenLabs -> offline."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from agent.tts.base import TTSError, TTSProvider, Voice
from agent.tts.cache import CachedTTS
from agent.tts.chain import FallbackTTS
from agent.tts.elevenlabs import SECTION, ElevenLabsSettings, ElevenLabsTTS
from agent.tts.offline import OfflineTTS
from agent.tts.usage import TTSUsage
from centralino.config import Config, env_name

log = logging.getLogger(__name__)


def voice_from_tenant(tenant: dict[str, Any]) -> Voice:
    """The tenant's ``voice`` JSON ({"provider", "voice_id", "stability", ...}) -> Voice."""
    raw = dict(tenant.get("voice") or {})
    known = {"provider", "voice_id", "stability", "similarity", "language"}
    return Voice(
        provider=str(raw.get("provider") or "offline"),
        voice_id=str(raw.get("voice_id") or ""),
        stability=float(raw.get("stability", 0.5)),
        similarity=float(raw.get("similarity") or raw.get("similarity_boost") or 0.75),
        language=str(raw.get("language") or tenant.get("language") or "it"),
        extra={k: v for k, v in raw.items() if k not in known and k != "similarity_boost"},
    )


def build_tts(
    config: Config, usage: TTSUsage | None = None, cache_dir: Path | None = None
) -> CachedTTS:
    """One TTS stack per process, shared by all calls."""
    providers: list[TTSProvider] = []
    settings = config.section(SECTION, ElevenLabsSettings)
    if settings.api_key:
        providers.append(ElevenLabsTTS(settings))
    else:
        log.warning(
            "ElevenLabs disabled: %s is not set; tenants get the offline voice",
            env_name(SECTION, "api_key"),
        )
    try:
        providers.append(OfflineTTS())
    except TTSError as exc:
        if not providers:
            raise
        log.error("no offline voice as fallback: %s", exc)
    chain = FallbackTTS(providers, usage=usage)
    return CachedTTS(chain, cache_dir or config.runtime_dir / "tts-cache", usage=usage)
