"""Real Italian speech with transcripts: the Asterisk core prompts (it).

``asterisk-core-sounds-it-wav`` installs 599 prompts (8 kHz, one speaker) and
``asterisk-core-sounds-it`` a transcript file ``core-sounds-it.txt(.gz)`` with
lines ``name: text``. Tests and the WER benchmark use them as caller speech.
"""

from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass
from pathlib import Path

from centralino.simcaller.sipp import asterisk_root

_SOUND_DIRS = ("usr/share/asterisk/sounds", "var/lib/asterisk/sounds")
_TRANSCRIPTS = (
    "usr/share/doc/asterisk-core-sounds-it/core-sounds-it.txt.gz",
    "usr/share/doc/asterisk-core-sounds-it/core-sounds-it.txt",
    "usr/share/asterisk/sounds/it/core-sounds-it.txt",
)


@dataclass(frozen=True)
class Prompt:
    name: str  # e.g. "vm-intro", "digits/5"
    wav: Path
    transcript: str  # as shipped
    text: str  # without editorial notes: what is actually said

    @property
    def is_speech(self) -> bool:
        """False for sound effects ("[toni ascendenti]") and empty transcripts."""
        return bool(self.text)


def _in_root(root: Path, path: str) -> Path:
    """Resolve ``path`` inside ``root``, following absolute symlinks within it."""
    current = root / path.lstrip("/")
    for _ in range(20):
        if not current.is_symlink():
            return current
        target = os.readlink(current)
        current = root / target.lstrip("/") if target.startswith("/") else current.parent / target
    return current


# The transcript file lost some accented letters to "?" (a latin-1 round trip).
_DAMAGED = (
    (re.compile(r"\bsar\?"), "sarà"),
    (re.compile(r"\bpu\?"), "può"),
    (re.compile(r"\bcos\?"), "così"),
    (re.compile(r"\bpi\?"), "più"),
    (re.compile(r"(?<=\s)\?(?=\s)"), "è"),
)


def clean_transcript(text: str) -> str:
    """Repair lost accents; drop bracketed sounds and parenthesised translator notes."""
    t = text
    for pattern, repl in _DAMAGED:
        t = pattern.sub(repl, t)
    t = re.sub(r"\[[^\]]*\]", " ", t)
    t = re.sub(r"\([^)]*\)", " ", t)
    t = re.sub(r"\s+", " ", t).strip()
    t = re.sub(r"\s+([.,;:!?])", r"\1", t)
    return re.sub(r"([.,;:!?])[.,;:]+", r"\1", t)


def sounds_dir(root: Path | str | None = None, language: str = "it") -> Path | None:
    r = asterisk_root(root) if root is not None or asterisk_root().exists() else Path("/")
    for base in _SOUND_DIRS:
        for name in (language, f"{language}_IT"):
            d = _in_root(r, f"{base}/{name}")
            if d.is_dir():
                return d
    return None


def read_transcripts(root: Path | str | None = None) -> dict[str, str]:
    r = asterisk_root(root) if root is not None or asterisk_root().exists() else Path("/")
    for rel in _TRANSCRIPTS:
        p = _in_root(r, rel)
        if p.is_file():
            raw = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
            out: dict[str, str] = {}
            for line in raw.decode("utf-8-sig", errors="replace").splitlines():
                line = line.strip()
                if not line or line.startswith(";"):
                    continue
                name, sep, text = line.partition(":")
                if sep and name.strip():
                    out[name.strip()] = text.strip()
            return out
    return {}


def italian_prompts(root: Path | str | None = None, speech_only: bool = True) -> list[Prompt]:
    """(wav, transcript) pairs of the Italian prompts, sorted by name.

    Empty when the prompts or the transcripts are not installed.
    """
    d = sounds_dir(root)
    if d is None:
        return []
    prompts = []
    for name, transcript in sorted(read_transcripts(root).items()):
        wav = d / f"{name}.wav"
        if not wav.is_file():
            continue
        p = Prompt(name, wav, transcript, clean_transcript(transcript))
        if p.is_speech or not speech_only:
            prompts.append(p)
    return prompts
