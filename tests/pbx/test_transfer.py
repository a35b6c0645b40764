"""CallControl.transfer through the dialplan's outbound context, on real Asterisk.

Without a trunk the outbound context refuses (cause 34): the transfer fails and the
conversation goes on. With a trunk pointing at a SIPp UAS (the "agency's phone" on
127.0.0.2), the caller ends up talking to it and hears its audio.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.conversation import AudioOut, CallContext, CallControl
from centralino.asterisk.instance import Instance, free_rtp_range, free_sip_port, unique_name
from centralino.asterisk.settings import AsteriskSettings, Layout, resolve_prefix
from centralino.calls.models import Call
from centralino.calls.service import CallStore
from centralino.config import Config
from centralino.db.session import Database
from centralino.simcaller import place_call
from centralino.tenants.service import TenantService
from pbx.agi.server import RoutingAgi, start_agi_server
from pbx.ari.client import AriClient
from pbx.controller import Controller
from pbx.settings import ari_settings
from tests.fixtures.asterisk import AsteriskFixture, make_test_settings
from tests.pbx.conftest import DEMO_DID, DEMO_TENANTS, PbxEnv, error_lines

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]

AGENCY_PHONE = "+390212345600"
REPO = Path(__file__).resolve().parents[2]


def tone(seconds: float, freq: float = 440.0) -> bytes:
    t = np.arange(int(seconds * 16000)) / 16000
    return (np.sin(2 * np.pi * freq * t) * 9000).astype(np.int16).tobytes()


class TransferConversation:
    def __init__(self, number: str = AGENCY_PHONE) -> None:
        self.number = number
        self.transferred: bool | None = None
        self.audio_in_ended = False

    async def run(
        self,
        ctx: CallContext,
        audio_in: AsyncIterator[bytes],
        audio_out: AudioOut,
        control: CallControl,
    ) -> dict[str, Any]:
        await audio_out.play(tone(0.5))
        await audio_out.wait_played()
        self.transferred = await control.transfer(self.number)
        if not self.transferred:
            await audio_out.play(tone(1.0, 660.0))
            await audio_out.wait_played()
            await control.hangup("transfer failed, message taken")
            return {"outcome": "completed"}
        async for _ in audio_in:  # ends: our media leg left the call
            pass
        self.audio_in_ended = True
        return {"outcome": "transferred"}


async def test_transfer_without_a_trunk_fails_and_the_call_goes_on(
    pbx_env: PbxEnv, caplog: pytest.LogCaptureFixture
) -> None:
    conversation = TransferConversation()
    pbx_env.controller.conversation_factory = lambda ctx: conversation
    report = await place_call(
        DEMO_DID,
        port=pbx_env.asterisk.sip_port,
        script={"utterances": [], "max_wait_ms": 20000, "agent_silence_ms": 4000},
        timeout=15,
    )
    await pbx_env.wait_idle()
    assert conversation.transferred is False
    assert report.answered and report.hangup_by == "callee", report.summary()
    # The tone before and the tone after the (immediately refused) attempt: 1.5 s.
    assert report.heard.voiced_s == pytest.approx(1.5, abs=0.2), report.heard
    with pbx_env.db.session() as s:
        call = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
        assert call.outcome == "completed"
        kinds = [e.kind for e in call.events]
        assert kinds.count("transfer") == 1 and kinds.count("transfer_failed") == 1
        [failed] = [e for e in call.events if e.kind == "transfer_failed"]
        assert failed.data["number"] == AGENCY_PHONE
    assert error_lines(caplog) == []


async def test_transfer_to_an_invalid_number_is_refused(pbx_env: PbxEnv) -> None:
    conversation = TransferConversation(number="chiamami")
    pbx_env.controller.conversation_factory = lambda ctx: conversation
    report = await place_call(
        DEMO_DID,
        port=pbx_env.asterisk.sip_port,
        script={"utterances": [], "max_wait_ms": 20000, "agent_silence_ms": 4000},
        timeout=15,
    )
    await pbx_env.wait_idle()
    assert conversation.transferred is False and report.answered
    with pbx_env.db.session() as s:
        call = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
        assert [e.kind for e in call.events].count("transfer") == 0
        assert [e.kind for e in call.events].count("transfer_failed") == 1


# -- with a trunk -------------------------------------------------------------------

UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="agency phone">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
  ]]></send>
  <send retrans="500"><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
  ]]></send>
  <recv request="ACK" crlf="true"/>
  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap"/></action></nop>
  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>
</scenario>
"""


@pytest.fixture(scope="module")
def trunk_asterisk() -> Iterator[tuple[AsteriskFixture, int]]:
    """A second Asterisk whose trunk points at 127.0.0.2:<port> (a SIPp UAS)."""
    prefix = resolve_prefix(AsteriskSettings(), REPO / "var")
    if str(prefix) != "/" and not (prefix / "usr/sbin/asterisk").exists():
        pytest.skip(f"no Asterisk root at {prefix}")
    uas_port = free_sip_port()
    settings = make_test_settings(
        unique_name("xfer"),
        trunk_host="127.0.0.2",
        trunk_port=uas_port,
        trunk_auth="ip",
        trunk_allowed_ips="127.0.0.2",
        trunk_codecs="alaw,ulaw",
    )
    runtime = Path(tempfile.mkdtemp(prefix="centralino-xfer-"))
    layout = Layout.for_instance(prefix, settings.instance, runtime)
    instance = Instance(settings, layout)
    instance.install(instance.render())
    data = {f: getattr(settings, f) for f in settings.__dataclass_fields__ if f != "prefix"}
    data["prefix"] = str(prefix)
    config = Config({"asterisk": data, "paths": {"runtime_dir": str(runtime)}}, environ={})
    instance.process.start()
    try:
        yield AsteriskFixture(instance=instance, config=config, runtime_dir=runtime), uas_port
    finally:
        try:
            instance.process.stop()
        finally:
            if not os.environ.get("CENTRALINO_KEEP_ASTERISK"):
                instance.remove()
            shutil.rmtree(runtime, ignore_errors=True)


async def test_transfer_through_the_trunk_connects_the_caller(
    trunk_asterisk: tuple[AsteriskFixture, int],
    sqlite_db: Database,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ast, uas_port = trunk_asterisk
    TenantService(sqlite_db).load_file(DEMO_TENANTS)
    config = ast.config.with_overrides({"paths": {"runtime_dir": str(tmp_path / "var")}})
    host_dir, inner_dir = ast.scratch_dir("uas")
    (host_dir / "uas.xml").write_text(UAS)
    uas_argv = [
        "sipp", "-sf", "uas.xml", "-i", "127.0.0.2", "-p", str(uas_port),
        "-mp", str(free_rtp_range(10)[0]), "-m", "1", "-timeout", "60s",
        "-timeout_error", "-trace_err", "-nostdin",
    ]  # fmt: skip
    uas = asyncio.create_task(asyncio.to_thread(ast.run_in_root, uas_argv, 90.0, inner_dir))
    tenants = TenantService(sqlite_db)
    agi_server = await start_agi_server(RoutingAgi(tenants), "127.0.0.1", ast.agi_port)
    conversation = TransferConversation()
    controller = Controller(
        ari=AriClient(ari_settings(config)),
        store=CallStore(sqlite_db),
        tenants=tenants,
        conversation_factory=lambda ctx: conversation,
        recordings_dir=config.recordings_dir,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(controller.run(stop))
    try:
        await asyncio.wait_for(controller.ready.wait(), 15)
        await asyncio.sleep(0.5)  # the UAS is listening
        report = await place_call(
            DEMO_DID,
            port=ast.sip_port,
            script={"utterances": [], "hangup_after_ms": 6000},
            timeout=15,
        )
        for _ in range(100):
            if not controller.sessions:
                break
            await asyncio.sleep(0.1)
        uas_result = await asyncio.wait_for(uas, 60)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        agi_server.close()
        await agi_server.wait_closed()
    assert report.answered and report.hangup_by == "caller", report.summary()
    assert conversation.transferred is True and conversation.audio_in_ended
    # The UAS got the call, played its recording to the caller and received our BYE.
    assert uas_result.returncode == 0, uas_result.stdout[-2000:] + uas_result.stderr[-1000:]
    # Our 0.5 s tone, then several seconds of the agency phone's audio.
    assert report.heard.voiced_s > 3.0, report.heard
    with sqlite_db.session() as s:
        call = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
        assert call.outcome == "transferred" and call.state == "ended"
        kinds = [e.kind for e in call.events]
        assert "transfer" in kinds and "transfer_connected" in kinds
        assert call.data["hangup_by"] == "caller"
    assert error_lines(caplog) == []
