"""A fallback chain of TTS providers; itself a provider.

ElevenLabs first, then the offline voice: any error, timeout, 401 or missing key
moves on to the next provider within the same turn, so the caller always hears
the reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from agent.tts.base import Speech, TTSError, TTSProvider, Voice
from agent.tts.usage import TTSUsage

log = logging.getLogger(__name__)


class FallbackTTS:
    name = "chain"

    def __init__(
        self,
        providers: Sequence[TTSProvider],
        usage: TTSUsage | None = None,
        timeout_s: float | None = None,
    ) -> None:
        if not providers:
            raise ValueError("FallbackTTS needs at least one provider")
        self.providers = list(providers)
        self.usage = usage
        # Per-provider budget on top of each provider's own timeout (belt and braces).
        self.timeout_s = timeout_s
        self.failures: dict[str, int] = {}

    def order_for(self, voice: Voice) -> list[TTSProvider]:
        """The tenant's preferred provider first, then the rest in chain order.

        A tenant on the offline voice never reaches ElevenLabs.
        """
        preferred = [p for p in self.providers if p.name == voice.provider]
        if voice.provider == "offline":
            return preferred or [p for p in self.providers if p.name.startswith("offline")]
        return preferred + [p for p in self.providers if p not in preferred]

    async def synthesize(self, text: str, voice: Voice, tenant_id: int | None) -> Speech:
        errors: list[str] = []
        for provider in self.order_for(voice):
            try:
                if self.timeout_s:
                    speech = await asyncio.wait_for(
                        provider.synthesize(text, voice, tenant_id), self.timeout_s
                    )
                else:
                    speech = await provider.synthesize(text, voice, tenant_id)
            except TimeoutError:
                errors.append(f"{provider.name}: timed out after {self.timeout_s} s")
            except TTSError as exc:
                errors.append(f"{provider.name}: {exc}")
            except Exception as exc:  # a provider bug must not silence the call
                log.exception("TTS provider %s crashed", provider.name)
                errors.append(f"{provider.name}: {exc!r}")
            else:
                if errors:
                    log.warning(
                        "TTS fell back to %s (tenant %s): %s",
                        speech.provider,
                        tenant_id,
                        "; ".join(errors),
                    )
                if self.usage is not None and not speech.cached:
                    self.usage.record(speech.provider, tenant_id, speech.chars)
                return speech
            self.failures[provider.name] = self.failures.get(provider.name, 0) + 1
        raise TTSError("every TTS provider failed: " + "; ".join(errors))
