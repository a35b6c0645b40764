"""End to end with the voice agent plugged in at the seam (``pbx.conversation = "voice"``).

A real SIP call, the controller built the way ``centralino serve`` builds it for the
voice conversation (Whisper STT from var/models, rules dialogue, offline TTS), and a
simulated caller that says its name after the greeting: the agent must hear it (the
caller turn is stored with the recognised text) and answer (heard at the caller).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from centralino.calls.models import Call
from centralino.simcaller import place_call
from pbx.cli import build_conversation_factory
from pbx.settings import PbxSettings
from tests.pbx.conftest import DEMO_DID, PbxEnv, error_lines
from tests.pbx.conftest import whisper_model as whisper_model  # tests/e2e/conftest imports it here

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]


async def _use_the_voice_agent(pbx_env: PbxEnv, whisper_model: Path) -> None:
    """The controller answers with the real voice agent (Whisper from ``whisper_model``)."""
    config = pbx_env.config.with_overrides({"stt": {"model_dir": str(whisper_model.resolve())}})
    factory, _tts = await build_conversation_factory(config, PbxSettings(conversation="voice"))
    pbx_env.controller.conversation_factory = factory


async def test_the_voice_agent_hears_the_caller_and_answers(
    pbx_env: PbxEnv, whisper_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await _use_the_voice_agent(pbx_env, whisper_model)
    report = await place_call(
        DEMO_DID,
        port=pbx_env.asterisk.sip_port,
        script={
            "utterances": [
                {"text": "Buongiorno, mi chiamo Mario Rossi.", "wait_for_agent": True},
            ],
            "max_wait_ms": 25000,
            "agent_silence_ms": 1500,
        },
        timeout=15,
    )
    await pbx_env.wait_idle(30)
    assert report.answered, report.summary()
    utterance = report.utterances[0]
    assert utterance.agent_finished is True, utterance  # the greeting was heard
    assert utterance.response_latency_ms is not None, utterance  # and a reply came
    assert (utterance.agent_reply_voiced_s or 0) > 0.5, utterance
    with pbx_env.db.session() as s:
        call = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
        speakers = [t.speaker for t in call.turns]
        assert speakers[0] == "agent" and "caller" in speakers, speakers
        heard = " ".join(t.text for t in call.turns if t.speaker == "caller").lower()
        assert "mario" in heard or "rossi" in heard, heard
        assert call.state == "ended"
    assert error_lines(caplog) == []


async def test_a_greeting_cut_by_the_caller_is_stored_as_interrupted(
    pbx_env: PbxEnv, whisper_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Over real SIP: the caller talks over the greeting. The stored greeting turn says it
    was interrupted, how much of it was played and what was heard of it; the turns keep
    their order and the greeting keeps the time it started."""
    await _use_the_voice_agent(pbx_env, whisper_model)
    report = await place_call(
        DEMO_DID,
        port=pbx_env.asterisk.sip_port,
        script={
            "utterances": [
                # The demo greeting lasts about 7 s: this starts 1.5 s into it.
                {"text": "Buongiorno, mi chiamo Mario Rossi.", "barge_in_after_ms": 1500},
            ],
            "max_wait_ms": 20000,
            "agent_silence_ms": 1500,
        },
        timeout=15,
    )
    await pbx_env.wait_idle(30)
    assert report.answered, report.summary()
    assert report.utterances[0].barge_in and not report.utterances[0].error, report.summary()
    with pbx_env.db.session() as s:
        call = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
        turns = sorted(call.turns, key=lambda t: t.index)
        events = [e.kind for e in call.events]
        greeting, answer = turns[0], turns[1]
        assert "barge_in" in events, events
        assert (greeting.speaker, answer.speaker) == ("agent", "caller"), turns
        data = greeting.data
        assert data["interrupted"] is True, data
        assert data["reply_text"].startswith("Buongiorno") and data["reply_text"].endswith("?")
        # What the caller heard of it: its first sentence(s), not the whole greeting.
        assert greeting.text and data["reply_text"].startswith(greeting.text)
        assert len(greeting.text) < len(data["reply_text"])
        assert 1500 <= data["played_ms"] < data["audio_ms"], data
        assert greeting.at < answer.at
        heard = answer.text.lower()
        assert "mario" in heard or "rossi" in heard, heard
    assert error_lines(caplog) == []
