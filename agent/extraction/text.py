"""Text normalisation shared by every extractor.

Callers' words come from Whisper (punctuated, capitalised, digits with dots) or
from a chat box (lowercase, no accents, typos). Every extractor works on the
same folded form so that "Città Studi", "citta studi" and "CITTÀ STUDI" match.
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """Lowercase, accents removed, apostrophes unified, single spaces."""
    text = strip_accents(text.translate(_APOSTROPHES)).lower()
    # "un'altra" / "all'Isola": the elided article is a word of its own.
    text = text.replace("'", "' ")
    return re.sub(r"\s+", " ", text).strip()


def words(text: str) -> list[str]:
    """Folded word tokens; numbers keep their inner dots/commas ("350.000", "1,2")."""
    return _WORD.findall(fold(text))


def has_phrase(folded: str, *phrases: str) -> bool:
    """True when one of ``phrases`` (already folded) occurs on word boundaries."""
    for phrase in phrases:
        if re.search(r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])", folded):
            return True
    return False


def title_name(text: str) -> str:
    """'mario de rossi' -> 'Mario De Rossi' (keeps apostrophes: D'Angelo)."""
    parts = []
    for word in text.split():
        parts.append("'".join(p[:1].upper() + p[1:].lower() for p in word.split("'")))
    return " ".join(parts)


def fold_map(text: str) -> tuple[str, list[int]]:
    """:func:`fold` plus, for each folded character, its index in ``text``, so that a
    phrase found in the folded text can be quoted in the caller's own spelling."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text.translate(_APOSTROPHES)):
        piece = strip_accents(ch).lower()
        for c in piece.replace("'", "' "):
            if c.isspace():
                if not out or out[-1] == " ":
                    continue
                c = " "
            out.append(c)
            index.append(i)
    while out and out[-1] == " ":
        out.pop()
        index.pop()
    return "".join(out), index


def original_span(text: str, start: int, end: int) -> str:
    """The words of ``text`` behind ``fold(text)[start:end]`` ("entro l'estate" for
    "entro l' estate"); the folded slice itself if the two cannot be aligned."""
    folded, index = fold_map(text)
    if folded != fold(text) or not 0 <= start < end <= len(index):
        return fold(text)[start:end]
    return text[index[start] : index[end - 1] + 1].translate(_APOSTROPHES)
