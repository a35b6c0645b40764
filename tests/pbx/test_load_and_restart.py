"""Ten simultaneous SIPp calls, an Asterisk restart under the running controller, AMI."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import wave
from pathlib import Path

import numpy as np
import pytest

from centralino.asterisk.instance import free_rtp_range, free_sip_port
from centralino.audio.g711 import ulaw_encode
from centralino.calls.models import Call
from centralino.simcaller import place_call
from pbx.ami.client import AmiClient, AmiError
from pbx.settings import AmiSettings, ami_settings
from tests.pbx.conftest import DEMO_DID, PbxEnv, error_lines, write_caller_wav

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]

SCENARIO = Path(__file__).parent / "data" / "uac.xml"


async def test_ten_simultaneous_sipp_calls(
    pbx_env: PbxEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """sipp -m 10 -l 10: every call answered and stored, caller audio received, no errors."""
    ast = pbx_env.asterisk
    host_dir, inner_dir = ast.scratch_dir(f"pbx-load-{tmp_path.name}")
    (host_dir / "uac.xml").write_text(SCENARIO.read_text())
    wav = write_caller_wav(tmp_path / "caller.wav", 3.0)
    with wave.open(str(wav)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    (host_dir / "caller.ulaw").write_bytes(ulaw_encode(pcm))
    sent_s = len(pcm) / 8000
    media_port = free_rtp_range(40)[0]
    argv = [
        "sipp", f"127.0.0.1:{ast.sip_port}", "-sf", "uac.xml",
        "-s", DEMO_DID, "-key", "caller", "+393351112233",
        "-key", "audio", f"{inner_dir}/caller.ulaw", "-d", "7000",
        "-m", "10", "-l", "10", "-r", "10",
        "-i", "127.0.0.1", "-p", str(free_sip_port()), "-mp", str(media_port),
        "-timeout", "90s", "-timeout_error", "-trace_err", "-trace_stat", "-nostdin",
    ]  # fmt: skip
    res = await asyncio.to_thread(ast.run_in_root, argv, 150.0, inner_dir)
    await pbx_env.wait_idle(30)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    with pbx_env.db.session() as s:
        calls = list(s.query(Call).filter(Call.did == DEMO_DID))
    assert len(calls) == 10
    assert len({c.sip_call_id for c in calls}) == 10
    for call in calls:
        assert call.state == "ended" and call.outcome == "completed", call.outcome
        assert call.answered_at is not None
        assert call.hangup_cause == "Normal Clearing"
        assert call.duration_s == pytest.approx(7.0, abs=0.5)
        assert call.caller_audio_s is not None and call.caller_audio_s >= 0.95 * sent_s
        assert Path(call.recording_path).exists()
    assert error_lines(caplog) == []


async def test_controller_reconnects_after_asterisk_restart(
    pbx_env: PbxEnv, caplog: pytest.LogCaptureFixture
) -> None:
    ari = pbx_env.controller.ari
    loop = asyncio.get_running_loop()
    before = ari.connect_count
    await asyncio.to_thread(pbx_env.asterisk.restart)
    back = loop.time()  # Asterisk is up again
    while not (ari.connect_count > before and ari.connected.is_set()):
        assert loop.time() - back < 15, "controller did not reconnect"
        await asyncio.sleep(0.05)
    reconnect_s = loop.time() - back
    logging.getLogger(__name__).info("ARI reconnected %.2fs after Asterisk came back", reconnect_s)
    assert reconnect_s < 5.0
    # The next call works end to end.
    report = await place_call(
        DEMO_DID,
        port=pbx_env.asterisk.sip_port,
        script={"utterances": [], "hangup_after_ms": 2500},
        timeout=15,
    )
    await pbx_env.wait_idle()
    assert report.answered and report.heard.non_silent, report.summary()
    with pbx_env.db.session() as s:
        call = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
        assert call.outcome == "completed" and call.state == "ended"
    assert error_lines(caplog) == []


async def test_ami_health_and_originate(pbx_env: PbxEnv) -> None:
    """CoreStatus answers; an AMI Originate into the inbound dialplan becomes a stored call."""
    ami = AmiClient(ami_settings(pbx_env.config))
    await ami.connect()
    try:
        status = await ami.core_status()
        assert "CoreCurrentCalls" in status
        await ami.originate(
            f"Local/{DEMO_DID}@from-test",
            application="Wait",
            data="4",
            caller_id="Demo <+390200000001>",
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        call = None
        while loop.time() < deadline:
            with pbx_env.db.session() as s:
                call = s.query(Call).filter(Call.caller_id == "+390200000001").first()
            if call is not None and call.state == "ended":
                break
            await asyncio.sleep(0.2)
        assert call is not None and call.state == "ended"
        assert call.outcome == "completed" and call.did == DEMO_DID
        assert call.duration_s == pytest.approx(4.0, abs=1.0)
        # The hang-up of the originated leg was seen on AMI with its cause.
        assert any(h.cause == 16 for h in ami.hangups.values())
    finally:
        ami.close()


async def test_ami_wrong_secret_is_a_clear_error(pbx_env: PbxEnv) -> None:
    good = ami_settings(pbx_env.config)
    ami = AmiClient(AmiSettings(good.host, good.port, good.user, "wrong-secret"))
    with pytest.raises(AmiError, match="login"):
        await ami.connect(timeout_s=3)
    ami.close()
    with pytest.raises(AmiError, match="no default credentials"):
        AmiClient(AmiSettings(good.host, good.port, good.user, ""))


async def test_asterisk_crash_mid_call_closes_the_row(
    pbx_env: PbxEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """Asterisk killed (SIGKILL) during a call: the row is completed as failed, not left open.

    (A graceful Asterisk stop hangs its channels up first, so those rows end normally
    with Asterisk's cause.) The controller then reconnects to the restarted Asterisk.
    """
    call_task = asyncio.create_task(
        place_call(
            DEMO_DID,
            port=pbx_env.asterisk.sip_port,
            script={"utterances": [], "hangup_after_ms": 9000},
            timeout=15,
        )
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while not pbx_env.controller.sessions and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert pbx_env.controller.sessions, "the call never reached the controller"
    await asyncio.sleep(1.5)
    process = pbx_env.asterisk.instance.process
    pid = process.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await pbx_env.wait_idle(20)
    while process.running():
        await asyncio.sleep(0.1)
    await asyncio.to_thread(pbx_env.asterisk.start)
    report = await call_task
    with pbx_env.db.session() as s:
        call = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
        assert call.state == "ended"
        assert call.outcome == "failed"
        assert call.hangup_cause == "asterisk connection lost"
        assert call.ended_at is not None
    await asyncio.wait_for(pbx_env.controller.ready.wait(), 10)
    assert error_lines(caplog) == []
