"""The simulated caller against the real Asterisk 22 of the test session.

No ARI controller is connected here, so a call to a DID takes the dialplan's
fallback: an Italian message, then the voicemail beep and recording. That is a
real far end playing a known prompt: the caller must hear it, detect its end,
speak into the mailbox and have its caller id and audio arrive in Asterisk.
(The full controller flow is tested in tests/pbx with this caller.)
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from centralino.simcaller import place_call
from centralino.simcaller.audio import load_8k, read_wav, voiced_duration
from centralino.simcaller.sipp import run_sipp
from tests.fixtures.asterisk import AsteriskFixture

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]
CALLER = "+393478889900"


def _new_messages(inbox: Path, before: set[Path], wait_s: float = 10.0) -> list[Path]:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        new = sorted(set(inbox.glob("msg*.txt")) - before) if inbox.exists() else []
        if new:
            return new
        time.sleep(0.2)
    return []


async def test_hears_the_fallback_message_then_speaks_into_voicemail(
    asterisk: AsteriskFixture, prompt_wavs: dict[str, Path], tmp_path: Path
) -> None:
    inbox = asterisk.voicemail_dir / "centralino" / asterisk.settings.voicemail_mailbox / "INBOX"
    before = set(inbox.glob("msg*.txt")) if inbox.exists() else set()
    speech = prompt_wavs["agent-pass"]  # 3.9 s of real Italian speech
    report = await place_call(
        "+390299999999",
        caller_id=CALLER,
        port=asterisk.sip_port,
        script={
            "utterances": [{"wav": str(speech), "wait_for_agent": True}],
            "hangup_after_ms": 1500,
            "max_wait_ms": 30000,
        },
        record=tmp_path / "heard.wav",
        timeout=15,
    )
    assert report.ok, report.summary()
    assert report.sip_status == 200 and report.setup_ms is not None
    assert report.hangup_by == "caller" and report.bye_status == 200
    # The message (several seconds of speech) and the beep were heard.
    assert report.heard.voiced_s > 3.0, report.heard
    assert report.heard.lost_packets == 0
    assert report.heard.payload_types == [0]  # PCMU as offered
    u = report.utterances[0]
    assert u.agent_finished is True
    assert u.sent_start_s is not None and u.sent_start_s > report.heard.segments[-1].end_s
    assert report.sent_audio_s == pytest.approx(len(load_8k(speech)) / 8000, abs=0.01)
    heard = read_wav(tmp_path / "heard.wav")
    assert voiced_duration(heard.samples) == pytest.approx(report.heard.voiced_s, abs=0.3)
    # Asterisk got our caller id from the From header and recorded our audio.
    new = _new_messages(inbox, before)
    assert new, "no voicemail message recorded"
    info = new[-1].read_text()
    assert CALLER in info
    duration = re.search(r"duration=(\d+)", info)
    assert duration is not None and int(duration[1]) >= 3, info


async def test_unknown_extension_is_reported_with_its_sip_status(
    asterisk: AsteriskFixture,
) -> None:
    # The test endpoint's context only accepts numbers: Asterisk answers 404.
    report = await place_call("centralino", port=asterisk.sip_port, timeout=10)
    assert not report.answered and not report.ok
    assert report.sip_status == 404
    assert "404" in report.error


def test_sipp_load_helper_against_asterisk(
    asterisk: AsteriskFixture, prompt_wavs: dict[str, Path]
) -> None:
    """Three concurrent SIPp calls with audio; they hang up during the message."""
    result = run_sipp(
        "127.0.0.1",
        asterisk.sip_port,
        "+390299999999",
        calls=3,
        audio=prompt_wavs["agent-pass"],
        hold_ms=2500,
    )
    assert result.ok, result.output_tail + result.errors
    assert (result.answered, result.successful, result.failed) == (3, 3, 0)
