"""Caller scripts, the Italian prompt catalogue and the CLI's bad-input handling."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from centralino.simcaller.audio import write_wav
from centralino.simcaller.prompts import clean_transcript, italian_prompts
from centralino.simcaller.script import ScriptError, load_script, parse_script


def _wav(path: Path, seconds: float = 0.5, rate: int = 16000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    write_wav(path, (np.sin(2 * np.pi * 300 * t) * 6000).astype(np.int16), rate)
    return path


def test_parse_script_loads_audio_relative_to_the_script(tmp_path: Path) -> None:
    _wav(tmp_path / "hello.wav", 0.5, 16000)
    (tmp_path / "s.json").write_text(
        json.dumps(
            {
                "from": "333 1234567",
                "utterances": [
                    {"wav": "hello.wav", "pause_ms": 300},
                    {"dtmf": "0#", "wait_for_agent": False},
                    {"wav": "hello.wav", "barge_in_after_ms": 500},
                ],
                "hangup_after_ms": 1000,
                "agent_silence_ms": 700,
            }
        )
    )
    s = load_script(tmp_path / "s.json")
    assert s.caller_id == "+393331234567"
    assert [u.kind for u in s.utterances] == ["wav", "dtmf", "wav"]
    first = s.utterances[0]
    assert first.audio is not None and abs(len(first.audio) - 4000) <= 2  # resampled to 8 kHz
    assert first.pause_ms == 300 and first.wait_for_agent
    assert s.utterances[1].source == "0#" and not s.utterances[1].wait_for_agent
    assert s.utterances[2].barge_in_after_ms == 500
    assert s.hangup_after_ms == 1000 and s.agent_silence_ms == 700
    assert abs(s.sent_audio_s - 1.0) < 0.01


@pytest.mark.skipif(
    not (shutil.which("espeak-ng") or shutil.which("pico2wave")), reason="no offline voice"
)
def test_text_utterance_is_synthesised_offline(tmp_path: Path) -> None:
    s = parse_script({"utterances": [{"text": "Buongiorno, vorrei un appuntamento"}]}, tmp_path)
    audio = s.utterances[0].audio
    assert audio is not None and len(audio) > 8000  # more than a second of speech
    assert float(np.sqrt(np.mean(audio.astype(float) ** 2))) > 300


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON object"),
        ({"utterances": [{"wav": "missing.wav"}]}, "no such WAV"),
        ({"utterances": [{"wav": "a.wav", "text": "x"}]}, "exactly one"),
        ({"utterances": [{}]}, "exactly one"),
        ({"utterances": [{"dtmf": "12x"}]}, "invalid digit"),
        ({"utterances": [{"dtmf": "1", "pause": 3}]}, "unknown key"),
        ({"utterances": "hello"}, "expected a list"),
        ({"from": "not a number"}, "invalid caller id"),
        ({"hangup_after_ms": -1}, "hangup_after_ms"),
        ({"vad_threshold_dbfs": 3}, "vad_threshold_dbfs"),
        ({"utterance": []}, "unknown key"),
        ({"utterances": [{"dtmf": "1", "wait_for_agent": "yes"}]}, "true/false"),
    ],
)
def test_bad_scripts_are_rejected(tmp_path: Path, data: object, message: str) -> None:
    with pytest.raises(ScriptError, match=message):
        parse_script(data, tmp_path)


def test_malformed_json_and_non_wav(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{utterances: [}")
    with pytest.raises(ScriptError, match="not valid JSON"):
        load_script(tmp_path / "bad.json")
    (tmp_path / "fake.wav").write_text("hello")
    (tmp_path / "s.json").write_text(json.dumps({"utterances": [{"wav": "fake.wav"}]}))
    with pytest.raises(ScriptError, match="not a RIFF"):
        load_script(tmp_path / "s.json")
    with pytest.raises(ScriptError, match="no such script"):
        load_script(tmp_path / "nope.json")


def test_italian_prompts_have_transcripts(prompt_wavs: dict[str, Path]) -> None:
    prompts = {p.name: p for p in italian_prompts()}
    assert len(prompts) > 500
    intro = prompts["vm-intro"]
    assert intro.wav.is_file()
    assert intro.text.startswith("Prego lasciare un messaggio dopo il segnale acustico.")
    assert "(" not in intro.text  # translator's note removed
    assert "ascending-2tone" not in prompts  # a sound effect, not speech
    assert any(p.name == "ascending-2tone" for p in italian_prompts(speech_only=False))
    assert clean_transcript("Uno [beep] (nota) due .") == "Uno due."
    # Accents the shipped transcript file lost ("pu?") are restored.
    assert prompts["cannot-complete-as-dialed"].text == (
        "La chiamata non può essere completata così come composta."
    )
    assert prompts["conf-full"].text == "La conferenza è piena."


# --- CLI bad input: exit status 2 and no call placed ------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A UDP socket standing in for the SIP server: nothing may reach it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    yield s
    s.close()


def _run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "centralino.toml"
    config.write_text(f'[paths]\nruntime_dir = "{tmp_path / "var"}"\n')
    env = {**os.environ, "CENTRALINO_CONFIG": str(config)}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "centralino.cli", "call", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def _nothing_received(s: socket.socket) -> bool:
    try:
        s.recv(65535)
    except BlockingIOError:
        return True
    return False


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: ["--to", "ciao"], "--to"),
        (lambda d: ["--to", "+390212345678", "--from", "12"], "invalid caller id"),
        (lambda d: ["--to", "+390212345678", "--script", str(d / "nope.json")], "no such script"),
        (lambda d: ["--to", "+390212345678", "--script", str(d / "bad.json")], "not valid JSON"),
        (lambda d: ["--to", "+390212345678", "--script", str(d / "nowav.json")], "no such WAV"),
        (lambda d: ["--to", "+390212345678", "--auth-user", "bob"], "CENTRALINO_CALL_PASSWORD"),
    ],
)
def test_cli_bad_input_exits_2_without_calling(
    tmp_path: Path, listener: socket.socket, make: object, message: str
) -> None:
    (tmp_path / "bad.json").write_text('{"utterances": [')
    (tmp_path / "nowav.json").write_text(json.dumps({"utterances": [{"wav": "x.wav"}]}))
    port = listener.getsockname()[1]
    args = make(tmp_path)  # type: ignore[operator]
    proc = _run_cli(tmp_path, *args, "--server", "127.0.0.1", "--port", str(port), "--no-db")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _nothing_received(listener)


def test_cli_unreachable_server_reports_and_fails(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nobody listens on that port now: ICMP port unreachable ends the call at once.
    proc = _run_cli(tmp_path, "--to", "+390212345678", "--port", str(port), "--json", "--no-db")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["answered"] is False and report["sip_status"] is None
    assert "unreachable" in report["error"]


def test_shipped_demo_script_is_valid() -> None:
    """``make run`` places its demo call with this script."""
    import centralino.simcaller

    path = Path(centralino.simcaller.__file__).parent / "demo_call.json"
    script = load_script(path, load_audio=False)
    assert script.caller_id and script.utterances
    assert all(u.kind in ("wav", "text") for u in script.utterances)


def test_cli_default_server_comes_from_the_asterisk_section() -> None:
    from centralino.config import Config
    from centralino.simcaller.cli import _default_server

    assert _default_server(Config({}, environ={})) == ("127.0.0.1", 5060)
    assert _default_server(Config({"asterisk": {"sip_port": 5099}}, environ={})) == (
        "127.0.0.1",
        5099,
    )
    office = Config({"asterisk": {"sip_bind": "192.168.1.10", "sip_port": 5070}}, environ={})
    assert _default_server(office) == ("192.168.1.10", 5070)
