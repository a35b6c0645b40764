"""Texts Whisper produces on silence, music or line noise rather than from speech.

Whisper was trained on subtitled video, so on empty or noisy input it "hears" the
credits of Italian subtitles and YouTube sign-offs. These are dropped before the
dialogue sees them, so noise on the line never becomes a caller's answer.
"""

from __future__ import annotations

import re
import unicodedata

# Compared after normalisation (lowercase, no accents, no punctuation); a transcript
# whose normalised text starts with one of these prefixes is dropped entirely.
KNOWN_PREFIXES = (
    "sottotitoli a cura di",
    "sottotitoli creati dalla comunita amara",
    "sottotitoli e revisione a cura di",
    "sottotitoli di",
    "sottotitolato da",
    "a cura di qtss",
    "qtss",
    "amara org",
    "grazie per la visione",
    "grazie per l attenzione e alla prossima",
    "grazie a tutti per la visione",
    "iscriviti al canale",
    "iscrivetevi al canale",
    "non dimenticate di iscrivervi",
    "ciao a tutti e benvenuti",
    "alla prossima",
    "musica",
    "applausi",
    "sigla",
    "subtitles by",
    "thanks for watching",
    "thank you for watching",
)
# Whole-text matches only: plausible as real answers inside a longer sentence.
KNOWN_EXACT = frozenset({"grazie", "grazie a tutti", "ciao", "buonanotte", "you", "ok"})


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return text.strip()


def is_hallucination(text: str, *, suspect_noise: bool = False) -> str:
    """Return the reason ``text`` should be dropped, or "" to keep it.

    Bracketed/parenthesised sound tags ("[Musica]", "(applausi)") and empty or
    punctuation-only outputs are dropped too. Exact short phrases like "grazie"
    are only dropped when ``suspect_noise`` (the caller decides, e.g. when Whisper
    itself gives a high no-speech probability): "grazie" is also a real answer.
    """
    stripped = text.strip()
    if not stripped:
        return "empty"
    if re.fullmatch(r"[\[\(\*♪].*[\]\)\*♪]", stripped):
        return "sound tag"
    norm = normalize(stripped)
    if not norm:
        return "punctuation only"
    for prefix in KNOWN_PREFIXES:
        if norm == prefix or norm.startswith(prefix + " "):
            return f"known hallucination: {prefix!r}"
    if suspect_noise and norm in KNOWN_EXACT:
        return f"known hallucination on noise: {norm!r}"
    if _repetitive(norm):
        return "repetition loop"
    return ""


def _repetitive(norm: str) -> bool:
    """A decoder stuck in a loop ("e e e e e", "ciao ciao ciao ciao ciao ...")."""
    words = norm.split()
    if len(words) < 8:
        return False
    return len(set(words)) / len(words) < 0.2
