"""Caller scripts: what the simulated caller says, and when.

JSON format::

    {
      "from": "+393331234567",
      "utterances": [
        {"wav": "hello.wav", "wait_for_agent": true, "pause_ms": 300},
        {"text": "Vorrei informazioni sull'appartamento", "barge_in_after_ms": 500},
        {"dtmf": "0"}
      ],
      "hangup_after_ms": 2000
    }

WAV paths are relative to the script's folder. Everything is validated and
loaded before a call is placed, so a bad script never produces a half call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from centralino.simcaller.audio import RATE, AudioError, load_8k
from centralino.simcaller.rtp import DTMF_EVENTS
from centralino.tenants.phone import InvalidPhoneNumber, normalize_e164


class ScriptError(ValueError):
    """The script (or a file it names) is not usable; the message says why."""


_UTTERANCE_KEYS = {
    "wav",
    "text",
    "dtmf",
    "wait_for_agent",
    "pause_ms",
    "barge_in_after_ms",
    "agent_silence_ms",
    "max_wait_ms",
    "label",
}
_SCRIPT_KEYS = {
    "from",
    "utterances",
    "hangup_after_ms",
    "agent_silence_ms",
    "max_wait_ms",
    "max_call_s",
    "vad_threshold_dbfs",
    "language",
}


@dataclass
class Utterance:
    kind: str  # wav | text | dtmf
    source: str  # the path, the text or the digits
    audio: np.ndarray | None = None  # 8 kHz int16, None for dtmf
    wait_for_agent: bool = True
    pause_ms: int = 0
    barge_in_after_ms: int | None = None
    agent_silence_ms: int | None = None
    max_wait_ms: int | None = None
    label: str = ""

    @property
    def duration_s(self) -> float:
        return 0.0 if self.audio is None else len(self.audio) / RATE


@dataclass
class Script:
    caller_id: str | None = None
    utterances: list[Utterance] = field(default_factory=list)
    # After the last utterance: hang up this long after it ended; None = wait for
    # the agent's reply to end (bounded by max_wait_ms), then hang up.
    hangup_after_ms: int | None = None
    # Silence that marks the end of an agent turn.
    agent_silence_ms: int = 900
    # Longest wait for the agent to speak and finish, per turn.
    max_wait_ms: int = 20000
    # Hard limit on the whole call (the caller hangs up).
    max_call_s: float = 300.0
    vad_threshold_dbfs: float = -45.0
    language: str = "it"

    @property
    def sent_audio_s(self) -> float:
        return sum(u.duration_s for u in self.utterances)


def _int(value: Any, where: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ScriptError(f"{where}: expected a number >= {minimum}, got {value!r}")
    return int(value)


def normalize_caller_id(raw: str) -> str:
    try:
        return normalize_e164(str(raw))
    except InvalidPhoneNumber as exc:
        raise ScriptError(f"invalid caller id: {exc}") from None


def parse_script(data: Any, base_dir: Path, load_audio: bool = True) -> Script:
    if not isinstance(data, dict):
        raise ScriptError("a caller script is a JSON object")
    unknown = sorted(set(data) - _SCRIPT_KEYS)
    if unknown:
        raise ScriptError(
            f"unknown key(s) in script: {', '.join(unknown)}"
            f" (known: {', '.join(sorted(_SCRIPT_KEYS))})"
        )
    script = Script()
    if data.get("from") is not None:
        script.caller_id = normalize_caller_id(data["from"])
    if "language" in data:
        script.language = str(data["language"])
    for key in ("agent_silence_ms", "max_wait_ms"):
        if key in data:
            setattr(script, key, _int(data[key], key, 1))
    if data.get("hangup_after_ms") is not None:
        script.hangup_after_ms = _int(data["hangup_after_ms"], "hangup_after_ms")
    if "max_call_s" in data:
        script.max_call_s = float(_int(data["max_call_s"], "max_call_s", 1))
    if "vad_threshold_dbfs" in data:
        thr = data["vad_threshold_dbfs"]
        if isinstance(thr, bool) or not isinstance(thr, int | float) or not -100 < thr < 0:
            raise ScriptError(f"vad_threshold_dbfs: expected a number in (-100, 0), got {thr!r}")
        script.vad_threshold_dbfs = float(thr)
    items = data.get("utterances", [])
    if not isinstance(items, list):
        raise ScriptError("utterances: expected a list")
    for i, item in enumerate(items):
        where = f"utterances[{i}]"
        if not isinstance(item, dict):
            raise ScriptError(f"{where}: expected an object")
        unknown = sorted(set(item) - _UTTERANCE_KEYS)
        if unknown:
            raise ScriptError(f"{where}: unknown key(s) {', '.join(unknown)}")
        kinds = [k for k in ("wav", "text", "dtmf") if item.get(k) not in (None, "")]
        if len(kinds) != 1:
            raise ScriptError(f"{where}: needs exactly one of 'wav', 'text' or 'dtmf'")
        kind = kinds[0]
        source = item[kind]
        if not isinstance(source, str):
            raise ScriptError(f"{where}.{kind}: expected a string")
        utt = Utterance(kind=kind, source=source, label=str(item.get("label", "")))
        if kind == "dtmf":
            bad = sorted({c for c in source.upper() if c not in DTMF_EVENTS})
            if bad:
                raise ScriptError(f"{where}.dtmf: invalid digit(s) {''.join(bad)!r} (0-9 * # A-D)")
            utt.source = source.upper()
        elif kind == "wav":
            path = Path(source).expanduser()
            if not path.is_absolute():
                path = base_dir / path
            utt.source = str(path)
            if load_audio:
                try:
                    utt.audio = load_8k(path)
                except AudioError as exc:
                    raise ScriptError(f"{where}: {exc}") from None
                if len(utt.audio) == 0:
                    raise ScriptError(f"{where}: {path} contains no audio")
        elif load_audio:
            from centralino.simcaller.tts import synthesize

            try:
                utt.audio = synthesize(source, script.language)
            except AudioError as exc:
                raise ScriptError(f"{where}: {exc}") from None
        wait = item.get("wait_for_agent", True)
        if not isinstance(wait, bool):
            raise ScriptError(f"{where}.wait_for_agent: expected true/false")
        utt.wait_for_agent = wait
        if "pause_ms" in item:
            utt.pause_ms = _int(item["pause_ms"], f"{where}.pause_ms")
        for key in ("barge_in_after_ms", "agent_silence_ms", "max_wait_ms"):
            if item.get(key) is not None:
                setattr(utt, key, _int(item[key], f"{where}.{key}"))
        script.utterances.append(utt)
    return script


def load_script(path: Path | str, load_audio: bool = True) -> Script:
    p = Path(path)
    if not p.is_file():
        raise ScriptError(f"{p}: no such script file")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScriptError(f"{p}: not valid JSON: {exc}") from None
    return parse_script(data, p.parent.resolve(), load_audio=load_audio)
