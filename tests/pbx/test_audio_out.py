"""The AudioOut seam the voice agent relies on, measured at a real caller.

A conversation injected through the ConversationFactory plays a long prompt,
interrupts it (barge-in: FLUSH_MEDIA), says something short, waits until it was
played and hangs up. The simulated caller measures what it actually heard.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from agent.conversation import AudioOut, CallContext, CallControl, Conversation
from centralino.calls.models import Call
from centralino.simcaller import place_call
from tests.pbx.conftest import DEMO_DID, PbxEnv, error_lines

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]


def tone(seconds: float, freq: float = 440.0) -> bytes:
    t = np.arange(int(seconds * 16000)) / 16000
    return (np.sin(2 * np.pi * freq * t) * 9000).astype(np.int16).tobytes()


class BargeInConversation:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.frames_in = 0
        self.ctx: CallContext | None = None

    async def run(
        self,
        ctx: CallContext,
        audio_in: AsyncIterator[bytes],
        audio_out: AudioOut,
        control: CallControl,
    ) -> dict[str, Any]:
        self.ctx = ctx

        async def count() -> None:
            async for _ in audio_in:
                self.frames_in += 1

        counter = asyncio.create_task(count())
        t0 = time.monotonic()
        await audio_out.play(tone(8.0))
        await asyncio.sleep(1.5)
        self.timings["speaking_before_flush"] = float(audio_out.speaking)
        waiter = asyncio.create_task(audio_out.wait_played())
        await audio_out.flush()
        await asyncio.wait_for(waiter, 2)
        self.timings["flushed_at"] = time.monotonic() - t0
        self.timings["speaking_after_flush"] = float(audio_out.speaking)
        await asyncio.sleep(1.0)
        start = time.monotonic()
        await audio_out.play(tone(1.0, 660.0))
        await audio_out.wait_played()
        self.timings["short_played_s"] = time.monotonic() - start
        await control.record_turn("agent", "(toni di prova)")
        await control.hangup("test done")
        counter.cancel()
        return {"outcome": "completed"}


@pytest.mark.parametrize("pbx_env", ["websocket", "audiosocket"], indirect=True)
async def test_flush_and_wait_played_at_the_caller(
    pbx_env: PbxEnv, caplog: pytest.LogCaptureFixture
) -> None:
    conversation = BargeInConversation()

    def factory(ctx: CallContext) -> Conversation:
        return conversation

    pbx_env.controller.conversation_factory = factory
    report = await place_call(
        DEMO_DID,
        port=pbx_env.asterisk.sip_port,
        script={"utterances": [], "max_wait_ms": 20000, "agent_silence_ms": 5000},
        timeout=15,
    )
    await pbx_env.wait_idle()
    assert report.answered and report.hangup_by == "callee", report.summary()
    assert conversation.ctx is not None and conversation.ctx.tenant_slug == "demo"
    t = conversation.timings
    assert t["speaking_before_flush"] == 1.0 and t["speaking_after_flush"] == 0.0
    # wait_played returns when the audio has been played, not when it was queued.
    assert t["short_played_s"] == pytest.approx(1.0, abs=0.3)
    # The caller heard ~1.5 s of the 8 s prompt, then the 1 s one: not the whole prompt.
    heard = report.heard
    assert 2.0 < heard.voiced_s < 4.0, heard
    assert len(heard.segments) == 2, heard.segments
    assert heard.segments[0].duration_s == pytest.approx(1.5, abs=0.5)
    assert heard.segments[1].duration_s == pytest.approx(1.0, abs=0.3)
    with pbx_env.db.session() as s:
        call = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
        assert call.outcome == "completed" and call.hangup_cause == "Normal Clearing"
        assert call.data["hangup_by"] == "agent"
        assert [turn.text for turn in call.turns] == ["(toni di prova)"]
        [hangup] = [e for e in call.events if e.kind == "hangup"]
        assert hangup.data == {"by": "agent", "reason": "test done"}
    assert error_lines(caplog) == []


class DtmfConversation:
    """Says a short tone, then waits for two DTMF keys and hangs up."""

    def __init__(self) -> None:
        self.digits: list[str] = []
        self.got_two = asyncio.Event()

    async def send_dtmf(self, digit: str) -> None:
        self.digits.append(digit)
        if len(self.digits) >= 2:
            self.got_two.set()

    async def run(
        self,
        ctx: CallContext,
        audio_in: AsyncIterator[bytes],
        audio_out: AudioOut,
        control: CallControl,
    ) -> dict[str, Any]:
        await audio_out.play(tone(1.0))
        await audio_out.wait_played()
        await asyncio.wait_for(self.got_two.wait(), 15)
        await control.hangup("got the keys")
        return {"outcome": "completed", "keys": "".join(self.digits)}


@pytest.mark.parametrize("pbx_env", ["websocket", "audiosocket"], indirect=True)
async def test_caller_dtmf_reaches_the_conversation(pbx_env: PbxEnv) -> None:
    conversation = DtmfConversation()

    def factory(ctx: CallContext) -> Conversation:
        return conversation

    pbx_env.controller.conversation_factory = factory
    report = await place_call(
        DEMO_DID,
        port=pbx_env.asterisk.sip_port,
        script={
            "utterances": [
                {"dtmf": "4", "wait_for_agent": True},
                {"dtmf": "2", "wait_for_agent": False, "pause_ms": 300},
            ],
            "max_wait_ms": 15000,
        },
        timeout=15,
    )
    await pbx_env.wait_idle()
    assert report.answered and report.hangup_by == "callee", report.summary()
    assert conversation.digits == ["4", "2"]
    with pbx_env.db.session() as s:
        call = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
        assert call.data["dtmf"] == "42"
        assert call.data["result"] == {"outcome": "completed", "keys": "42"}


LEAD_RESULT = {
    "outcome": "lead",
    "lead": {
        "name": "Mario Rossi",
        "phone": "333 123 4567",
        "request_type": "acquisto",
        "property_type": "bilocale",
        "zone": "Brera",
        "budget_max": 350000,
    },
    "transcript": [
        {"speaker": "agent", "text": "Come posso aiutarla?"},
        {"speaker": "caller", "text": "Cerco un bilocale a Brera, budget 350 mila."},
    ],
}


class LeadConversation:
    async def run(
        self,
        ctx: CallContext,
        audio_in: AsyncIterator[bytes],
        audio_out: AudioOut,
        control: CallControl,
    ) -> dict[str, Any]:
        await audio_out.play(tone(0.5))
        await audio_out.wait_played()
        # A field Turn has no column for lands in turn.data instead of failing the row.
        await control.record_turn("agent", "Grazie, arrivederci.", tts_provider="offline",
                                  barge_in=True)  # fmt: skip
        await control.hangup("lead taken")
        return LEAD_RESULT


@pytest.mark.parametrize("sink_fails", [False, True])
async def test_a_conversation_lead_is_stored_and_never_lost(
    pbx_env: PbxEnv, sink_fails: bool, caplog: pytest.LogCaptureFixture
) -> None:
    from centralino.leads.models import Lead
    from centralino.leads.service import LeadService

    def broken_sink(tenant_id: int, call_id: str, result: dict[str, Any]) -> int:
        raise RuntimeError("lead database unavailable")

    pbx_env.controller.conversation_factory = lambda ctx: LeadConversation()
    pbx_env.controller.lead_sink = (
        broken_sink if sink_fails else LeadService(pbx_env.db).save_from_call
    )
    report = await place_call(
        DEMO_DID,
        port=pbx_env.asterisk.sip_port,
        script={"utterances": [], "max_wait_ms": 10000},
        timeout=15,
    )
    await pbx_env.wait_idle()
    assert report.answered and report.hangup_by == "callee", report.summary()
    with pbx_env.db.session() as s:
        call = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
        assert call.outcome == "lead"
        # Whatever happens downstream, the lead is in the call row.
        assert call.data["result"]["lead"]["name"] == "Mario Rossi"
        kinds = [e.kind for e in call.events]
        leads = s.query(Lead).filter(Lead.call_id == call.id).all()
        if sink_fails:
            assert "lead_failed" in kinds and leads == []
            assert any("lead not stored" in line for line in error_lines(caplog))
        else:
            assert "lead_saved" in kinds
            [lead] = leads
            assert lead.tenant_id == call.tenant_id and lead.zone == "Brera"
            assert lead.phone == "+393331234567"
            [turn] = call.turns
            assert turn.tts_provider == "offline" and turn.data == {"barge_in": True}
            assert error_lines(caplog) == []


class CrashingConversation:
    async def run(
        self,
        ctx: CallContext,
        audio_in: AsyncIterator[bytes],
        audio_out: AudioOut,
        control: CallControl,
    ) -> dict[str, Any]:
        await audio_out.play(tone(0.5))
        await audio_out.wait_played()
        raise RuntimeError("dialogue engine crashed")


async def test_a_crashing_conversation_hands_the_caller_to_the_dialplan_fallback(
    pbx_env: PbxEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """No dead air: the caller gets the dialplan's message and voicemail instead."""
    pbx_env.controller.conversation_factory = lambda ctx: CrashingConversation()
    report = await place_call(
        DEMO_DID,
        port=pbx_env.asterisk.sip_port,
        script={"utterances": [], "hangup_after_ms": 9000},
        timeout=15,
    )
    await pbx_env.wait_idle()
    assert report.answered and report.hangup_by == "caller", report.summary()
    # The 0.5 s tone, then the fallback's recorded message (several seconds).
    assert report.heard.voiced_s > 3.0, report.heard
    with pbx_env.db.session() as s:
        call = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
        assert call.outcome == "failed" and call.state == "ended"
        assert call.hangup_cause.startswith("fallback: conversation error")
        assert call.data["hangup_by"] == "system"
        [fallback] = [e for e in call.events if e.kind == "fallback"]
        assert "dialogue engine crashed" in fallback.data["reason"]
    # The crash itself is the only error logged.
    errors = error_lines(caplog)
    assert len(errors) == 1 and "conversation failed" in errors[0], errors


async def test_media_failure_hands_the_caller_to_the_dialplan_fallback(
    pbx_env: PbxEnv, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The media websocket cannot be reached (a real refused connection): the caller is
    not answered by us and not hung up on, the dialplan fallback answers instead."""
    from pbx.controller import Controller

    monkeypatch.setattr(Controller, "media_base_url", property(lambda self: "ws://127.0.0.1:9"))
    report = await place_call(
        DEMO_DID,
        port=pbx_env.asterisk.sip_port,
        script={"utterances": [], "hangup_after_ms": 6000},
        timeout=15,
    )
    await pbx_env.wait_idle()
    assert report.answered and report.heard.voiced_s > 2.0, report.summary()
    with pbx_env.db.session() as s:
        call = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
        assert call.outcome == "failed" and call.answered_at is None
        assert call.hangup_cause.startswith("fallback: controller error")
        assert [e.kind for e in call.events if e.kind == "fallback"] == ["fallback"]
    errors = error_lines(caplog)
    assert len(errors) == 1 and "failed" in errors[0], errors
