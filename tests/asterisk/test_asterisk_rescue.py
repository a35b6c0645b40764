"""Controller dies with a caller inside the ARI app: `centralino asterisk rescue`.

A real ARI events websocket (aiohttp) plays the controller: it receives
StasisStart, answers, then disappears. The caller must then get the dialplan
fallback (message + voicemail), not silence.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time

import aiohttp
import pytest

from centralino.asterisk.rescue import rescue_orphans, stasis_channels
from tests.fixtures.asterisk import AsteriskFixture
from tests.fixtures.sipp import SippResult, seconds_to_reach_mailbox, sipp_call

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]


async def _enter_stasis_then_vanish(asterisk: AsteriskFixture) -> str:
    token = base64.b64encode(f"{asterisk.ari_user}:{asterisk.ari_password}".encode()).decode()
    auth = {"Authorization": f"Basic {token}"}
    base = f"http://127.0.0.1:{asterisk.http_port}/ari"
    async with aiohttp.ClientSession(headers=auth) as http:
        ws = await http.ws_connect(
            f"ws://127.0.0.1:{asterisk.http_port}/ari/events?app={asterisk.app_name}"
        )
        while True:
            event = await ws.receive_json(timeout=20)
            if event.get("type") == "StasisStart":
                break
        channel = event["channel"]
        async with http.post(f"{base}/channels/{channel['id']}/answer") as resp:
            assert resp.status == 204
        await ws.close()  # the controller is gone
        return str(channel["name"])


def test_rescue_sends_orphaned_callers_to_the_fallback(asterisk: AsteriskFixture) -> None:
    result: dict[str, SippResult] = {}
    caller = threading.Thread(
        target=lambda: result.setdefault(
            "call",
            sipp_call(
                asterisk, "0212345678", audio_seconds=seconds_to_reach_mailbox(asterisk), hold_ms=0
            ),
        )
    )
    mark = asterisk.log_mark()
    caller.start()
    try:
        name = asyncio.run(_enter_stasis_then_vanish(asterisk))
        time.sleep(1.0)
        # Orphaned: still inside the app, nobody drives it.
        assert (name, "inbound") in stasis_channels(asterisk.instance.process, asterisk.app_name)
        report = rescue_orphans(asterisk.instance.process, asterisk.app_name)
        assert report.redirected == [name], report
        assert not report.errors
        assert stasis_channels(asterisk.instance.process, asterisk.app_name) == []
    finally:
        caller.join(120)
    assert result["call"].ok, result["call"].errors
    log = asterisk.log_since(mark)
    assert "Executing [s@fallback:1]" in log
    after = log[log.index("Executing [s@fallback:1]") :]
    assert "Playing '" in after
    assert "VoiceMail(" in after


def test_rescue_with_nothing_to_do(asterisk: AsteriskFixture) -> None:
    report = rescue_orphans(asterisk.instance.process, asterisk.app_name)
    assert report.redirected == [] and report.hung_up == [] and report.errors == []
