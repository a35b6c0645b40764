"""Wiring for pbx: a ConversationFactory that gives every call a VoiceConversation.

Build the speech engines once per process and pass them in::

    stt = WhisperSTT(config.section("stt", STTSettings)); await stt.start()
    tts = build_tts(config, usage=TTSUsage())
    factory = make_conversation_factory(stt, tts, llm=None)
    # pbx: SessionDeps(conversation_factory=factory, ...)
"""

from __future__ import annotations

from typing import Any

from agent.conversation import CallContext, ConversationFactory
from agent.dialogue.base import Dialogue
from agent.stt.base import STTProvider
from agent.stt.vad import VADSettings
from agent.tts.base import TTSProvider
from agent.voice.pipeline import VoiceConversation, VoiceSettings
from agent.voice.stt_queue import transcription_queue


def make_conversation_factory(
    stt: STTProvider,
    tts: TTSProvider,
    llm: Any = None,
    settings: VoiceSettings | None = None,
    vad: VADSettings | None = None,
) -> ConversationFactory:
    from agent.dialogue.factory import make_dialogue

    def dialogue_for(ctx: CallContext) -> Dialogue:
        return make_dialogue(ctx.tenant, ctx.caller_id, ctx.in_business_hours, llm=llm)

    # Every call's transcriptions share one queue in front of the process's Whisper.
    queue = transcription_queue(stt)

    def factory(ctx: CallContext) -> VoiceConversation:
        return VoiceConversation(
            dialogue_for, stt, tts, settings=settings, vad=vad, stt_queue=queue
        )

    return factory
