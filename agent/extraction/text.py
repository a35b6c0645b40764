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
