"""ElevenLabs text-to-speech through the official ``elevenlabs`` SDK.

We ask ElevenLabs directly for ``pcm_16000`` (the product's slin16) so nothing is
transcoded; ``ulaw_8000`` and other PCM rates are accepted and converted. Requests
go to the streaming endpoint (``POST /v1/text-to-speech/{voice_id}/stream``) with a
strict time budget and no SDK retries: on any failure the fallback chain speaks
with the offline voice in the same turn instead of leaving the caller in silence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from agent.audio import SAMPLE_RATE, resample, ulaw_decode
from agent.tts.base import Speech, TTSError, Voice
from centralino.config import env_name, secret

log = logging.getLogger(__name__)

SECTION = "elevenlabs"
# Models with the ISO language_code parameter (multilingual_v2 rejects it).
_LANGUAGE_CODE_MODELS = ("eleven_flash_v2_5", "eleven_turbo_v2_5")


@dataclass(frozen=True)
class ElevenLabsSettings:
    """``[elevenlabs]`` in the config file; the key from CENTRALINO_ELEVENLABS__API_KEY."""

    api_key: str = secret()
    base_url: str = "https://api.elevenlabs.io"
    # eleven_flash_v2_5: ~75 ms model latency, Italian; eleven_multilingual_v2: best quality.
    model_id: str = "eleven_flash_v2_5"
    default_voice_id: str = ""  # used when the tenant's voice has no voice_id
    output_format: str = "pcm_16000"
    timeout_s: float = 5.0  # whole sentence; then the offline voice speaks
    optimize_streaming_latency: int = 0


def _to_slin16(audio: bytes, output_format: str) -> bytes:
    codec, _, rest = output_format.partition("_")
    rate = int(rest.split("_")[0]) if rest else SAMPLE_RATE
    if codec == "pcm":
        audio = audio[: len(audio) - len(audio) % 2]
        return resample(audio, rate, SAMPLE_RATE)
    if codec == "ulaw":
        return resample(ulaw_decode(audio), rate, SAMPLE_RATE)
    raise TTSError(f"output_format {output_format!r} is not PCM or µ-law; use pcm_16000")


class ElevenLabsTTS:
    """Implements :class:`agent.tts.base.TTSProvider`."""

    name = "elevenlabs"

    def __init__(self, settings: ElevenLabsSettings, client: Any = None) -> None:
        self.settings = settings
        if not settings.output_format.startswith(("pcm_", "ulaw_")):
            raise TTSError(
                f"elevenlabs.output_format {settings.output_format!r} unsupported: "
                "use pcm_16000 (or ulaw_8000)"
            )
        self._client = client

    def _get_client(self) -> Any:
        if self._client is None:
            from elevenlabs.client import AsyncElevenLabs

            self._client = AsyncElevenLabs(
                api_key=self.settings.api_key,
                base_url=self.settings.base_url.rstrip("/"),
                timeout=self.settings.timeout_s,
            )
        return self._client

    async def synthesize(self, text: str, voice: Voice, tenant_id: int | None) -> Speech:
        s = self.settings
        if not s.api_key:
            raise TTSError(
                f"missing secret setting {SECTION}.api_key: set the environment variable "
                f"{env_name(SECTION, 'api_key')}"
            )
        voice_id = voice.voice_id or s.default_voice_id
        if not voice_id:
            raise TTSError("no ElevenLabs voice_id for this tenant (voice.voice_id)")
        if not text.strip():
            raise TTSError("nothing to say: empty text")
        from elevenlabs import VoiceSettings
        from elevenlabs.core.api_error import ApiError

        model_id = str(voice.extra.get("model_id") or s.model_id)
        kwargs: dict[str, Any] = {
            "text": text,
            "model_id": model_id,
            "output_format": s.output_format,
            "voice_settings": VoiceSettings(
                stability=voice.stability, similarity_boost=voice.similarity
            ),
            # Fail fast: the fallback voice is better than a retry the caller waits for.
            "request_options": {"max_retries": 0, "timeout_in_seconds": int(max(1, s.timeout_s))},
        }
        if s.optimize_streaming_latency:
            kwargs["optimize_streaming_latency"] = s.optimize_streaming_latency
        if model_id in _LANGUAGE_CODE_MODELS and voice.language:
            kwargs["language_code"] = voice.language
        started = time.perf_counter()

        async def fetch() -> bytes:
            chunks = []
            async for chunk in self._get_client().text_to_speech.stream(voice_id, **kwargs):
                chunks.append(chunk)
            return b"".join(chunks)

        try:
            audio = await asyncio.wait_for(fetch(), timeout=s.timeout_s)
        except TimeoutError as exc:
            raise TTSError(f"ElevenLabs timed out after {s.timeout_s:.1f} s") from exc
        except ApiError as exc:
            if exc.status_code == 401:
                raise TTSError("ElevenLabs rejected the API key (401 Unauthorized)") from exc
            raise TTSError(f"ElevenLabs error {exc.status_code}: {str(exc.body)[:200]}") from exc
        except (httpx.HTTPError, OSError) as exc:
            raise TTSError(f"ElevenLabs unreachable at {s.base_url}: {exc!r}") from exc
        pcm = _to_slin16(audio, s.output_format)
        if not pcm:
            raise TTSError("ElevenLabs returned no audio")
        log.debug(
            "ElevenLabs %s: %d chars -> %.2f s in %.0f ms",
            model_id,
            len(text),
            len(pcm) / 32000,
            (time.perf_counter() - started) * 1000,
        )
        return Speech(pcm=pcm, provider=self.name, chars=len(text))
