"""Real SIP/RTP calls from the simulated caller to SIPp user agents (from the Asterisk root).

SIPp is an independent SIP implementation: it answers, echoes RTP (``-rtp_echo``),
streams a recorded prompt, challenges with digest auth (checked by SIPp's own
``verifyauth``), rejects with 486 or rings until CANCEL.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from centralino.simcaller import Credentials, place_call, place_call_sync
from centralino.simcaller.audio import load_8k, read_wav, voiced_duration
from centralino.simcaller.script import parse_script
from centralino.simcaller.sipp import SippServer, free_udp_port, run_sipp

pytestmark = pytest.mark.slow
DID = "+390212345678"


def _finished(server: SippServer) -> str:
    rc, out = server.wait(20)
    assert rc == 0, f"SIPp UAS failed ({rc}): {out[-1500:]}"
    return out


async def test_call_with_rtp_echo_hears_what_it_sent(
    uas: Callable[..., SippServer], prompt_wavs: dict[str, Path], tmp_path: Path
) -> None:
    server = uas("uas", extra_args=["-rtp_echo"])
    wav = prompt_wavs["vm-intro"]  # 7 s of real Italian speech
    script = parse_script(
        {"utterances": [{"wav": str(wav), "wait_for_agent": False}], "hangup_after_ms": 800},
        tmp_path,
    )
    report = await place_call(DID, port=server.port, script=script, record=tmp_path / "heard.wav")
    _finished(server)
    assert report.ok, report.error
    assert report.answered and report.sip_status == 200
    assert report.hangup_by == "caller" and report.bye_status == 200
    assert report.call_id.endswith("@127.0.0.1")
    sent = load_8k(wav)
    assert report.sent_audio_s == pytest.approx(len(sent) / 8000, abs=0.001)
    # The echo brings back everything we sent: same voiced time, within a few frames.
    sent_voiced = voiced_duration(sent)
    assert report.heard.voiced_s == pytest.approx(sent_voiced, abs=0.1)
    assert report.heard.non_silent and report.heard.lost_packets == 0
    u = report.utterances[0]
    assert u.sent_start_s is not None and u.sent_end_s is not None
    assert u.sent_end_s - u.sent_start_s == pytest.approx(len(sent) / 8000, abs=0.021)
    heard = read_wav(tmp_path / "heard.wav")
    assert heard.rate == 8000
    assert voiced_duration(heard.samples) == pytest.approx(sent_voiced, abs=0.1)
    assert report.duration_s is not None and report.duration_s >= 7.0
    assert report.rtp["sent_packets"] >= report.duration_s / 0.02 - 5


async def test_waits_for_the_agent_greeting_then_speaks(
    uas: Callable[..., SippServer], prompt_wavs: dict[str, Path], tmp_path: Path
) -> None:
    greeting = prompt_wavs["hello-world"]
    greeting_s = len(load_8k(greeting)) / 8000
    server = uas("uas_greeting.xml", audio=greeting)
    script = parse_script(
        {
            "utterances": [{"wav": str(prompt_wavs["auth-thankyou"])}],
            "agent_silence_ms": 400,
            "hangup_after_ms": 300,
        },
        tmp_path,
    )
    report = await place_call(DID, port=server.port, script=script)
    _finished(server)
    assert report.ok, report.error
    assert report.ringing_ms is not None and report.setup_ms is not None
    u = report.utterances[0]
    assert u.agent_finished is True
    # We spoke only after the greeting ended and 400 ms of silence followed.
    assert u.sent_start_s is not None
    assert u.sent_start_s >= greeting_s + 0.4 - 0.05
    assert u.sent_start_s <= greeting_s + 0.4 + 1.0
    assert len(report.heard.segments) == 1
    assert report.heard.segments[0].duration_s == pytest.approx(greeting_s, abs=0.25)
    assert report.heard.voiced_s > 0.3


async def test_barge_in_speaks_while_the_agent_talks(
    uas: Callable[..., SippServer], prompt_wavs: dict[str, Path], tmp_path: Path
) -> None:
    server = uas("uas_greeting.xml", audio=prompt_wavs["vm-intro"])
    script = parse_script(
        {
            "utterances": [{"wav": str(prompt_wavs["auth-thankyou"]), "barge_in_after_ms": 500}],
            "hangup_after_ms": 200,
        },
        tmp_path,
    )
    report = await place_call(DID, port=server.port, script=script)
    _finished(server)
    u = report.utterances[0]
    assert u.barge_in and not u.error
    onset = report.heard.segments[0].start_s
    assert u.sent_start_s is not None
    assert u.sent_start_s == pytest.approx(onset + 0.5, abs=0.25)
    # Barge-in: our utterance ended while the 7 s prompt was still playing.
    assert u.sent_end_s is not None and u.sent_end_s < report.heard.segments[0].end_s
    assert u.response_latency_ms == pytest.approx(0.0, abs=100.0)


async def test_dtmf_round_trip_through_rtp_echo(
    uas: Callable[..., SippServer], tmp_path: Path
) -> None:
    server = uas("uas_echo_dtmf.xml", extra_args=["-rtp_echo"])
    script = parse_script(
        {"utterances": [{"dtmf": "10#", "wait_for_agent": False}], "hangup_after_ms": 300},
        tmp_path,
    )
    report = await place_call(DID, port=server.port, script=script)
    _finished(server)
    assert report.ok, report.error
    assert report.heard.dtmf == "10#"
    assert report.utterances[0].error == ""


@pytest.mark.parametrize("right", [True, False])
async def test_digest_authentication_checked_by_sipp(
    uas: Callable[..., SippServer], right: bool
) -> None:
    server = uas("uas_auth.xml", values={"USER": "centralino", "PASSWORD": "s3cr3t-Pa55"})
    creds = Credentials("centralino", "s3cr3t-Pa55" if right else "wrong")
    report = await place_call(
        DID, port=server.port, credentials=creds, script={"hangup_after_ms": 200}
    )
    _finished(server)
    assert report.authenticated
    if right:
        assert report.ok and report.sip_status == 200, report.error
    else:
        assert not report.answered and report.sip_status == 403
        assert "403" in report.error


async def test_busy_is_reported(uas: Callable[..., SippServer]) -> None:
    server = uas("uas_busy.xml", values={"STATUS": "486 Busy Here"})
    report = await place_call(DID, port=server.port)
    _finished(server)  # SIPp got our ACK for the 486
    assert not report.answered and not report.ok
    assert (report.sip_status, report.sip_reason) == (486, "Busy Here")
    assert report.hangup_by == ""


async def test_cancel_when_not_answered_in_time(uas: Callable[..., SippServer]) -> None:
    server = uas("uas_ring_no_answer.xml")
    report = await place_call(DID, port=server.port, timeout=1.5)
    _finished(server)  # SIPp saw CANCEL, sent 200 + 487 and got our ACK
    assert not report.answered
    assert report.sip_status == 487
    assert "cancelled" in report.error
    assert report.ringing_ms is not None


async def test_ten_concurrent_calls_each_with_own_ports(
    uas: Callable[..., SippServer], prompt_wavs: dict[str, Path], tmp_path: Path
) -> None:
    server = uas("uas", calls=10, extra_args=["-rtp_echo"])
    script = parse_script(
        {
            "utterances": [{"wav": str(prompt_wavs["hello-world"]), "wait_for_agent": False}],
            "hangup_after_ms": 1000,
        },
        tmp_path,
    )
    reports = await asyncio.gather(
        *(place_call(DID, port=server.port, script=script) for _ in range(10))
    )
    _finished(server)
    assert all(r.ok for r in reports), [r.error for r in reports]
    assert len({r.call_id for r in reports}) == 10
    assert len({r.rtp["local_port"] for r in reports}) == 10
    assert all(r.heard.voiced_s > 0.3 for r in reports)


def test_sync_api_and_cli_json(uas: Callable[..., SippServer], tmp_path: Path) -> None:
    server = uas("uas", calls=2)
    report = place_call_sync(DID, port=server.port, script={"hangup_after_ms": 100})
    assert report.ok
    (tmp_path / "s.json").write_text(json.dumps({"hangup_after_ms": 200}))
    config = tmp_path / "c.toml"
    config.write_text(f'[paths]\nruntime_dir = "{tmp_path}"\n')
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "centralino.cli",
            "call",
            "--to",
            "02 1234 5678",
            "--from",
            "+393471112233",
            "--port",
            str(server.port),
            "--json",
            "--no-db",
            "--script",
            str(tmp_path / "s.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CENTRALINO_CONFIG": str(config)},
    )
    _finished(server)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] and data["to"] == "+390212345678" and data["caller_id"] == "+393471112233"
    assert data["hangup_by"] == "caller"


def test_run_sipp_load_helper(uas: Callable[..., SippServer], prompt_wavs: dict[str, Path]) -> None:
    server = uas("uas", calls=3, extra_args=["-rtp_echo"])
    result = run_sipp(
        "127.0.0.1", server.port, DID, calls=3, audio=prompt_wavs["hello-world"], hold_ms=1500
    )
    _finished(server)
    assert result.ok, result.output_tail
    assert (result.answered, result.successful, result.failed) == (3, 3, 0)


async def test_follows_a_reinvite_that_moves_the_media(
    uas: Callable[..., SippServer], prompt_wavs: dict[str, Path], tmp_path: Path
) -> None:
    dead = free_udp_port()
    server = uas("uas_reinvite.xml", values={"DEAD_PORT": str(dead)}, extra_args=["-rtp_echo"])
    script = parse_script(
        {
            "utterances": [
                {"wav": str(prompt_wavs["hello-world"]), "wait_for_agent": False, "pause_ms": 500}
            ],
            "hangup_after_ms": 800,
        },
        tmp_path,
    )
    report = await place_call(DID, port=server.port, script=script)
    _finished(server)  # SIPp got our 200 OK to its re-INVITE (and then our BYE)
    assert report.ok, report.error
    assert report.rtp["remote"] != f"127.0.0.1:{dead}"
    assert report.heard.voiced_s > 0.3  # the echo from the new media address


def test_cli_reports_a_rejected_call_and_exits_1(
    uas: Callable[..., SippServer], tmp_path: Path
) -> None:
    server = uas("uas_busy.xml", values={"STATUS": "503 Service Unavailable"})
    config = tmp_path / "c.toml"
    config.write_text(f'[paths]\nruntime_dir = "{tmp_path}"\n')
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "centralino.cli", "call", "--to", "+390212345678"),
            *("--port", str(server.port), "--no-db"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CENTRALINO_CONFIG": str(config)},
    )
    _finished(server)
    assert proc.returncode == 1
    assert "not answered: SIP 503 Service Unavailable" in proc.stdout
