"""The default conversation: greet the caller with the tenant's greeting, then listen.

Used until the voice agent plugs its own :class:`Conversation` in. The caller's
audio is recorded by the call session, not here; this only consumes it so the
call stays open while the caller speaks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from agent.conversation import (
    AudioOut,
    CallContext,
    CallControl,
    Conversation,
    ConversationFactory,
)
from agent.tts.base import TTSError, TTSProvider, Voice
from centralino.tenants.defaults import DEFAULT_GREETING

log = logging.getLogger(__name__)

GOODBYE = "Grazie per averci chiamato. Un nostro agente la richiamerà al più presto. Arrivederci."
CLOSED_NOTE = (
    "In questo momento l'agenzia è chiusa, ma può lasciarci il suo nome e il motivo della"
    " chiamata dopo questo messaggio."
)


def voice_for(tenant: dict[str, Any]) -> Voice:
    """The tenant's voice settings as a :class:`Voice` (unknown keys go to ``extra``)."""
    raw = dict(tenant.get("voice") or {})
    known = {"provider", "voice_id", "stability", "similarity", "language"}
    kwargs: dict[str, Any] = {k: raw.pop(k) for k in list(raw) if k in known}
    kwargs.setdefault("language", tenant.get("language") or "it")
    try:
        return Voice(**kwargs, extra=raw)
    except TypeError:
        return Voice(language="it")


def greeting_text(tenant: dict[str, Any], in_business_hours: bool) -> str:
    text = str(tenant.get("greeting") or "").strip() or DEFAULT_GREETING.format(
        agency=tenant.get("name") or "l'agenzia"
    )
    return text if in_business_hours else f"{text} {CLOSED_NOTE}"


async def warm_greetings(tts: TTSProvider, tenants: list[dict[str, Any]]) -> int:
    """Synthesize every tenant's greeting (open and closed) once, so that with a caching
    TTS the first callers do not wait for synthesis. Returns how many were made."""
    made = 0
    for tenant in tenants:
        for open_now in (True, False):
            try:
                await tts.synthesize(
                    greeting_text(tenant, open_now), voice_for(tenant), tenant.get("id")
                )
                made += 1
            except TTSError as exc:
                log.warning(
                    "greeting of tenant %s not pre-synthesized: %s", tenant.get("slug"), exc
                )
    return made


class GreetingConversation:
    """Say the greeting, listen until the caller hangs up (or ``listen_s`` passes)."""

    def __init__(self, tts: TTSProvider, listen_s: float = 120.0) -> None:
        self.tts = tts
        self.listen_s = listen_s

    async def _say(self, text: str, ctx: CallContext, out: AudioOut, control: CallControl) -> None:
        voice = voice_for(ctx.tenant)
        started = time.monotonic()
        speech = await self.tts.synthesize(text, voice, ctx.tenant_id)
        synth_ms = (time.monotonic() - started) * 1000
        await out.play(speech.pcm)
        await control.record_turn(
            "agent",
            text,
            tts_provider=speech.provider,
            tts_chars=speech.chars,
            first_audio_ms=synth_ms,
        )
        await out.wait_played()

    async def run(
        self,
        ctx: CallContext,
        audio_in: AsyncIterator[bytes],
        audio_out: AudioOut,
        control: CallControl,
    ) -> dict[str, Any]:
        text = greeting_text(ctx.tenant, ctx.in_business_hours)
        try:
            await self._say(text, ctx, audio_out, control)
        except TTSError as exc:
            # No voice at all: tell the timeline, keep recording the caller anyway.
            log.error("greeting not synthesized for call %s: %s", ctx.call_id, exc)
            await control.event("tts_failed", error=str(exc))
        deadline = time.monotonic() + self.listen_s
        timed_out = False

        async def consume() -> None:
            async for _frame in audio_in:
                pass

        try:
            await asyncio.wait_for(consume(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            timed_out = True
        if timed_out:
            try:
                await self._say(GOODBYE, ctx, audio_out, control)
            except TTSError as exc:
                log.error("goodbye not synthesized for call %s: %s", ctx.call_id, exc)
            await control.hangup("listen time over")
        return {"outcome": "completed"}


def greeting_factory(tts: TTSProvider, listen_s: float = 120.0) -> ConversationFactory:
    """A ConversationFactory building :class:`GreetingConversation` for every call."""

    def factory(ctx: CallContext) -> Conversation:
        return GreetingConversation(tts, listen_s)

    return factory
