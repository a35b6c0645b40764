"""Real SIP calls (SIPp from the Asterisk root) through the rendered dialplan.

No ARI controller is connected to the fixture's Asterisk in these tests, which
is exactly the "controller down" situation: the caller must still hear the
Italian message and reach the voicemail. No AGI server listens either, so the
AGI step fails and the call must go on regardless.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from centralino.asterisk.render import REPO_TEMPLATES, render
from centralino.asterisk.settings import AsteriskSettings, Layout
from tests.fixtures.sipp import seconds_to_reach_mailbox, sipp_call

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]


def _channel_lines(log: str, channel_hint: str = "PJSIP/centralino-test") -> list[str]:
    return [line for line in log.splitlines() if channel_hint in line]


def _wait_for_file(folder: Path, pattern: str, timeout: float = 10.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(folder.rglob(pattern)) if folder.exists() else []
        if found:
            return found
        time.sleep(0.2)
    return []


def test_controller_down_caller_gets_message_and_voicemail(asterisk) -> None:
    inbox = asterisk.voicemail_dir / "centralino" / asterisk.settings.voicemail_mailbox / "INBOX"
    before = set(inbox.glob("msg*.wav")) if inbox.exists() else set()
    mark = asterisk.log_mark()
    # The caller speaks through the message and for a few seconds into the mailbox.
    speak = seconds_to_reach_mailbox(asterisk)
    result = sipp_call(asterisk, "0212345678", audio_seconds=speak, hold_ms=500)
    assert result.ok, result.errors or result.output[-2000:]
    log = asterisk.log_since(mark)
    assert "AGI(" in log and "FastAGI failed" in log  # routing service down ...
    assert "Stasis app 'centralino' doesn't exist" in log  # ... and controller down
    assert "Centralino route: agi=FAILURE tenant= route=unknown hours=open" in log
    played = re.findall(r"Playing '([^']+)' \(language 'it'\)", log)
    assert played, log[-3000:]
    assert played[0].startswith(str(asterisk.layout.inner / "sounds" / "centralino-non-disp")) or (
        played[0].startswith("vm-nobodyavail")
    )
    assert "VoiceMail(" in log
    assert "Recording the message" in log
    new = _wait_for_file(inbox, "msg*.wav")
    new = [p for p in new if p not in before]
    assert new, f"no voicemail in {inbox}; log:\n{log[-3000:]}"
    info = Path(str(new[-1])[: -len(".wav")] + ".txt").read_text()
    assert "callerid" in info and "+393331234567" in info
    duration = re.search(r"duration=(\d+)", info)
    assert duration is not None and int(duration[1]) >= 3, info


def test_message_prompt_is_real_italian_audio(asterisk) -> None:
    """The fallback message exists as audio in the instance (offline voice) and is not silent."""
    import wave

    import numpy as np

    path = asterisk.layout.sounds / "centralino-non-disponibile.wav"
    if not path.exists():
        pytest.skip("no offline voice installed: the dialplan uses core Italian prompts")
    with wave.open(str(path)) as w:
        assert w.getframerate() == 8000 and w.getnchannels() == 1
        frames = w.readframes(w.getnframes())
        seconds = w.getnframes() / 8000
    assert 4 < seconds < 20
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    assert float(np.sqrt(np.mean(samples**2))) > 300


def test_inbound_call_to_an_external_number_never_dials_out(asterisk) -> None:
    """Toll fraud: dialling an international number from the inbound side.

    The call is handled as a call to an unknown DID (message + voicemail); the
    `outbound` context is never entered and nothing is dialled.
    """
    mark = asterisk.log_mark()
    result = sipp_call(asterisk, "0012125550123", audio_seconds=0, hold_ms=3000)
    assert result.ok, result.errors or result.output[-2000:]
    log = asterisk.log_since(mark)
    assert "0012125550123@inbound" in log
    assert "@outbound" not in log
    assert "Dial(" not in log
    assert "PJSIP/centralino-trunk" not in log


def test_non_numeric_destination_is_rejected(asterisk) -> None:
    mark = asterisk.log_mark()
    result = sipp_call(asterisk, "outbound", expect=404)
    assert result.ok, result.errors or result.output[-2000:]
    assert "@outbound" not in asterisk.log_since(mark)


def test_dialplan_entry_points_cannot_reach_outbound(asterisk) -> None:
    """Static reachability over the live dialplan: from-test/from-trunk never reach outbound."""
    reachable = _reachable(asterisk.cli, ["from-test"])
    assert "inbound" in reachable and "fallback" in reachable
    assert "outbound" not in reachable


def _reachable(cli: Callable[[str], str], roots: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        ctx = todo.pop()
        if ctx in seen:
            continue
        seen.add(ctx)
        text = cli(f"dialplan show {ctx}")
        targets = re.findall(r"(?:Goto|GotoIf|Gosub|GosubIf)\(([^)]*)\)", text)
        targets += re.findall(r"Include =>\s+'([^']+)'", text)
        for t in targets:
            for part in re.split(r"[?:]", t):
                name = part.split(",")[0].strip()
                if name and "," in part and not name.startswith("$"):
                    todo.append(name)
        todo += re.findall(r"Include =>\s+'([^']+)'", text)
    return seen


def test_rendered_forward_dials_only_the_configured_number(tmp_path: Path) -> None:
    """With a trunk and a fallback forward, every Dial reachable from inbound is fixed."""
    settings = AsteriskSettings(
        ari_password="a",
        ami_secret="b",
        trunk_host="sip.provider.example",
        trunk_username="u",
        trunk_password="p",
        fallback_forward_number="+390298765432",
    )
    text = render(settings, Layout.for_instance(Path("/"), "unit", tmp_path)).files[
        "extensions.conf"
    ]
    contexts = dict(re.findall(r"^\[([\w-]+)\]\n(.*?)(?=^\[|\Z)", text, re.S | re.M))
    for name in ("from-trunk", "from-test", "inbound", "fallback"):
        for dial in re.findall(r"Dial\(([^)]*)\)", contexts[name]):
            assert "${" not in dial.split(",")[0], f"caller-controlled Dial in [{name}]: {dial}"
    assert "Dial(PJSIP/+390298765432@centralino-trunk,25)" in contexts["fallback"]
    assert "Dial(PJSIP/${EXTEN}@centralino-trunk" in contexts["outbound"]
    assert REPO_TEMPLATES.is_dir()
