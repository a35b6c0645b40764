"""The Italian Asterisk prompts (asterisk-core-sounds-it) as labelled real speech.

Used by the ASR benchmark and by tests that need real recorded Italian: each prompt
is an 8 kHz telephone-quality WAV with its transcript in the package's
``core-sounds-it.txt.gz``. The files live in the Debian sid root built by
scripts/install-asterisk.sh, where ``sounds/it`` is an absolute alternatives link
that only resolves inside the chroot: :func:`prompts_dir` follows it within the root.
"""

from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path(
    os.environ.get("CENTRALINO_ASTERISK_ROOT", "/var/cache/centralino/asterisk-sid")
)
TRANSCRIPTS = "usr/share/doc/asterisk-core-sounds-it/core-sounds-it.txt.gz"


@dataclass(frozen=True)
class Prompt:
    name: str  # e.g. "vm-intro" or "digits/5"
    path: Path
    text: str


def _resolve_in_root(root: Path, path: str) -> Path:
    """Follow symlinks of ``path`` as the chroot would (absolute targets under root)."""
    current = root
    for part in Path(path).parts:
        if part == "/":
            continue
        candidate = current / part
        hops = 0
        while candidate.is_symlink() and hops < 16:
            target = os.readlink(candidate)
            candidate = (
                _resolve_in_root(root, target)
                if target.startswith("/")
                else candidate.parent / target
            )
            hops += 1
        current = candidate
    return current


def prompts_dir(root: Path = DEFAULT_ROOT, language: str = "it") -> Path:
    """The folder of the prompts for ``language`` inside ``root`` (may not exist)."""
    for rel in (
        f"/usr/share/asterisk/sounds/{language}",
        "/usr/share/asterisk/sounds/it_IT_m_Carlo",
    ):
        path = _resolve_in_root(root, rel)
        if path.is_dir():
            return path
    return root / "usr/share/asterisk/sounds" / language


def load_prompts(root: Path = DEFAULT_ROOT, include_bracketed: bool = False) -> list[Prompt]:
    """Every prompt that has both a WAV file and a transcript.

    Transcripts with bracketed parts ("[toni ascendenti]", "Il [suo] messaggio") are
    left out by default: whether the bracketed words are spoken is not stated, so they
    cannot be scored fairly. Descriptions of tones ("un suono beep") are not speech.
    """
    transcripts = root / TRANSCRIPTS
    if not transcripts.exists():
        raise FileNotFoundError(
            f"{transcripts} not found: the asterisk-core-sounds-it package is missing "
            "from the Asterisk root (run `make install`)"
        )
    folder = prompts_dir(root)
    found: dict[str, Prompt] = {}
    with gzip.open(transcripts, "rt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip().lstrip("\ufeff")
            if not line or line.startswith(";") or ": " not in line:
                continue
            # A few lines of the transcript file hold several entries run together
            # ("... eliminato vm-then-pound: poi premere cancelletto"): split them where
            # "word: " names an existing prompt ("disponibili: " is just text).
            name, text = line.split(": ", 1)
            cuts = [m for m in _ENTRY.finditer(text) if (folder / f"{m.group(1)}.wav").exists()]
            starts = [0, *(m.end() for m in cuts)]
            ends = [*(m.start() for m in cuts), len(text)]
            names = [name, *(m.group(1) for m in cuts)]
            for i, (entry, start, end) in enumerate(zip(names, starts, ends, strict=True)):
                prompt = _prompt(folder, entry, text[start:end], include_bracketed)
                if prompt is None:
                    continue
                # An entry on its own line wins over the same name run into another line.
                if i == 0 or prompt.name not in found:
                    found[prompt.name] = prompt
    return list(found.values())


_ENTRY = re.compile(r"\s+([a-z][a-z0-9_-]*(?:/[a-z0-9_-]+)?): ")


def _prompt(folder: Path, name: str, text: str, include_bracketed: bool) -> Prompt | None:
    # Parenthesised parts are directions to the speaker, not spoken text.
    text = re.sub(r"\([^)]*\)", " ", text).strip()
    if not text or (not include_bracketed and ("[" in text or "]" in text)):
        return None
    # "un suono beep": a description of a tone, not speech.
    if text.lower().startswith(("un suono", "suono ")):
        return None
    wav = folder / f"{name.strip()}.wav"
    return Prompt(name.strip(), wav, text) if wav.exists() else None
