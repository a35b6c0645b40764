"""Real SIP calls through the real Asterisk 22 into the ARI controller.

The caller is the project's simulated caller (``centralino.simcaller``: a real
SIP UA with RTP, measuring what it hears) or SIPp from the Asterisk root.
"""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from centralino.calls.models import Call, CallEvent
from centralino.db.session import Database
from centralino.simcaller import place_call
from tests.pbx.conftest import DEMO_DID, UNKNOWN_DID, PbxEnv, error_lines, write_caller_wav

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]

CALLER = "+393471234567"


def stored(db: Database, **where: str) -> list[Call]:
    with db.session() as s:
        q = s.query(Call)
        for key, value in where.items():
            q = q.filter(getattr(Call, key) == value)
        return list(q.all())


def events(db: Database, call_id: str) -> list[CallEvent]:
    with db.session() as s:
        return list(s.query(CallEvent).filter(CallEvent.call_id == call_id).order_by(CallEvent.id))


# Over both media transports: chan_websocket (Asterisk >= 22.6) and the AudioSocket
# fallback for Asterisk 18-22.5 (forced here: the test Asterisk is 22.10).
@pytest.mark.parametrize("pbx_env", ["websocket", "audiosocket"], indirect=True)
async def test_call_is_answered_greeted_recorded_and_stored(
    pbx_env: PbxEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The caller hears the greeting, speaks 3 s after it, hangs up; everything is stored."""
    assert pbx_env.controller.media_transport == pbx_env.controller.media_transport_setting
    wav = write_caller_wav(tmp_path / "caller.wav", 3.0)
    script = {
        "utterances": [{"wav": str(wav), "wait_for_agent": True}],
        "hangup_after_ms": 1000,
        "max_wait_ms": 20000,
    }
    report = await place_call(
        DEMO_DID,
        caller_id=CALLER,
        port=pbx_env.asterisk.sip_port,
        script=script,
        timeout=15,
    )
    await pbx_env.wait_idle()
    assert report.answered, report.summary()
    assert report.hangup_by == "caller"
    # The greeting was heard at the caller: several seconds of non-silent audio.
    assert report.heard.non_silent
    assert report.heard.voiced_s > 2.0, report.heard
    assert report.utterances[0].agent_finished is True

    [call] = stored(pbx_env.db, sip_call_id=report.call_id)
    with pbx_env.db.session() as s:
        from centralino.tenants.models import Tenant

        demo = s.query(Tenant).filter_by(slug="demo").one()
    assert call.tenant_id == demo.id
    assert call.caller_id == CALLER
    assert call.did == DEMO_DID
    assert call.state == "ended"
    assert call.outcome == "completed"
    assert call.hangup_code == 16 and call.hangup_cause == "Normal Clearing"
    assert call.data["hangup_by"] == "caller"
    assert call.answered_at is not None and call.ended_at is not None
    assert report.duration_s is not None and call.duration_s is not None
    assert abs(call.duration_s - report.duration_s) < 0.5, (call.duration_s, report.duration_s)

    # The controller received (and recorded) at least 95% of what the caller sent. The
    # simulated caller streams RTP from the answer to its BYE (silence between its words,
    # 20 ms a packet), so everything it sent is sent_packets x 20 ms.
    assert report.sent_audio_s >= 2.9
    sent_s = report.rtp["sent_packets"] * 0.02
    assert sent_s >= report.duration_s - 0.2
    assert call.caller_audio_s is not None
    assert call.caller_audio_s >= 0.95 * sent_s, (call.caller_audio_s, sent_s)
    path = Path(call.recording_path)
    assert path == pbx_env.recordings_dir / "demo" / f"{call.id}.wav"
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert w.getnframes() / 16000 == pytest.approx(call.caller_audio_s, abs=0.05)

    kinds = [e.kind for e in events(pbx_env.db, call.id)]
    assert kinds[0] == "start" and kinds[-1] == "end" and "route" in kinds
    with pbx_env.db.session() as s:
        turns = s.get(Call, call.id).turns  # type: ignore[union-attr]
        assert turns[0].speaker == "agent" and "Immobiliare Demo" in turns[0].text
    assert error_lines(caplog) == []


async def test_unknown_did_gets_a_message_and_is_logged(
    pbx_env: PbxEnv, caplog: pytest.LogCaptureFixture
) -> None:
    report = await place_call(
        UNKNOWN_DID,
        caller_id=CALLER,
        port=pbx_env.asterisk.sip_port,
        script={"utterances": [], "max_wait_ms": 15000},
        timeout=15,
    )
    await pbx_env.wait_idle()
    assert report.answered, report.summary()
    assert report.hangup_by == "callee"
    # "Il numero che ha digitato non è in uso..." (asterisk-core-sounds-it), ~4 s.
    assert report.heard.voiced_s > 2.0, report.heard
    [call] = stored(pbx_env.db, sip_call_id=report.call_id)
    assert call.tenant_id is None
    assert call.outcome == "unknown_did"
    assert call.did == UNKNOWN_DID and call.caller_id == CALLER
    assert call.state == "ended" and call.ended_at is not None
    assert call.data["hangup_by"] == "system"
    assert error_lines(caplog) == []


async def test_agi_routing_sets_channel_variables(pbx_env: PbxEnv, tmp_path: Path) -> None:
    """The dialplan's AGI(agi://.../route) reaches our FastAGI service and sets the variables."""
    before = pbx_env.agi.requests
    known = await place_call(
        DEMO_DID,
        port=pbx_env.asterisk.sip_port,
        script={"utterances": [], "hangup_after_ms": 500},
        timeout=15,
    )
    unknown = await place_call(
        UNKNOWN_DID,
        port=pbx_env.asterisk.sip_port,
        script={"utterances": [], "max_wait_ms": 15000},
        timeout=15,
    )
    await pbx_env.wait_idle()
    assert pbx_env.agi.requests == before + 2
    routes = {}
    for report in (known, unknown):
        [call] = stored(pbx_env.db, sip_call_id=report.call_id)
        [route] = [e for e in events(pbx_env.db, call.id) if e.kind == "route"]
        routes[call.did] = route.data
    demo = routes[DEMO_DID]
    assert demo["CENTRALINO_ROUTE"] == "known"
    assert demo["CENTRALINO_TENANT"] == "demo"
    assert demo["CENTRALINO_TENANT_ID"].isdigit()
    assert demo["CENTRALINO_HOURS"] in ("open", "closed")
    assert routes[UNKNOWN_DID]["CENTRALINO_ROUTE"] == "unknown"
    assert routes[UNKNOWN_DID]["CENTRALINO_TENANT"] == ""


async def test_a_recording_failure_does_not_cost_the_call(
    pbx_env: PbxEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """Recordings folder not writable (under /proc even root cannot create it)."""
    pbx_env.controller.recordings_dir = Path("/proc/centralino-recordings")
    report = await place_call(
        DEMO_DID,
        port=pbx_env.asterisk.sip_port,
        script={"utterances": [], "hangup_after_ms": 3000},
        timeout=15,
    )
    await pbx_env.wait_idle()
    assert report.answered and report.heard.non_silent, report.summary()
    [call] = stored(pbx_env.db, sip_call_id=report.call_id)
    assert call.outcome == "completed" and call.recording_path == ""
    assert call.caller_audio_s is not None and call.caller_audio_s > 2.5
    assert "recording_failed" in [e.kind for e in events(pbx_env.db, call.id)]
    assert [line for line in error_lines(caplog) if "cannot record" not in line] == []


async def test_greeting_conversation_says_goodbye_when_the_caller_stays_silent(
    pbx_env: PbxEnv, caplog: pytest.LogCaptureFixture
) -> None:
    from agent.tts.offline import OfflineTTS
    from pbx.calls.greeting import greeting_factory

    pbx_env.controller.conversation_factory = greeting_factory(OfflineTTS(), listen_s=2.0)
    report = await place_call(
        DEMO_DID,
        port=pbx_env.asterisk.sip_port,
        script={"utterances": [], "max_wait_ms": 40000, "agent_silence_ms": 6000},
        timeout=15,
    )
    await pbx_env.wait_idle()
    assert report.answered and report.hangup_by == "callee", report.summary()
    # Greeting, ~2 s of listening, goodbye: two separate speech turns at the caller.
    assert len(report.heard.segments) >= 2, report.heard.segments
    [call] = stored(pbx_env.db, sip_call_id=report.call_id)
    assert call.data["hangup_by"] == "agent" and call.outcome == "completed"
    with pbx_env.db.session() as s:
        texts = [t.text for t in s.get(Call, call.id).turns]  # type: ignore[union-attr]
    assert len(texts) == 2 and "Arrivederci" in texts[1]
    assert error_lines(caplog) == []
