"""Text preparation shared by the TTS engines and the voice pipeline."""

from __future__ import annotations

import re

# A sentence ends at . ! ? ; or … followed by whitespace (Italian prose); keep the mark.
_SENTENCE_END = re.compile(r"(?<=[.!?;…])\s+")
_CLAUSE_END = re.compile(r"(?<=[,:])\s+")


def normalize_space(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def split_sentences(text: str, max_chars: int = 250) -> list[str]:
    """Split text at sentence boundaries; sentences longer than ``max_chars`` are split
    again at commas/colons and, as a last resort, between words.

    Short chunks keep each synthesis fast (first audio sooner) and stay well inside
    what the command-line engines handle reliably.
    """
    if max_chars < 20:
        raise ValueError(f"max_chars must be at least 20, got {max_chars}")
    out: list[str] = []
    for sentence in _SENTENCE_END.split(normalize_space(text)):
        if not sentence:
            continue
        if len(sentence) <= max_chars:
            out.append(sentence)
            continue
        out.extend(_pack(_CLAUSE_END.split(sentence), max_chars))
    return out


def _pack(parts: list[str], max_chars: int) -> list[str]:
    """Greedily join parts up to max_chars; split any single over-long part by words."""
    chunks: list[str] = []
    current = ""
    for part in parts:
        pieces = [part] if len(part) <= max_chars else _by_words(part, max_chars)
        for piece in pieces:
            if current and len(current) + 1 + len(piece) > max_chars:
                chunks.append(current)
                current = piece
            else:
                current = f"{current} {piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks


def _by_words(text: str, max_chars: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for word in text.split(" "):
        while len(word) > max_chars:  # a pathological "word": hard cut
            if current:
                chunks.append(current)
                current = ""
            chunks.append(word[:max_chars])
            word = word[max_chars:]
        if current and len(current) + 1 + len(word) > max_chars:
            chunks.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        chunks.append(current)
    return chunks
