"""Answer callers' questions from the tenant FAQ, with fuzzy matching.

FAQ entries are short ("orari di apertura") while callers ask in many ways
("a che ora aprite?", "siete aperti il sabato?"). Both sides are reduced to
concept tokens (a small synonym map, then a crude stem) and compared by
overlap, with rapidfuzz as a second opinion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from agent.extraction.text import fold

_CONCEPTS: dict[str, str] = {}
for concept, words in {
    "hours": "ora ore orari orario aperti aperto aprite apre apertura aperture chiudete chiude "
    "chiusura chiusi chiuso sabato domenica",
    "where": "dove indirizzo sede sedi ufficio uffici trovate trovo raggiungervi via agenzia "
    "venire passare",
    "fee": "provvigione provvigioni commissione commissioni percentuale compenso costa "
    "costi costo pagare tariffa tariffe",
    "mortgage": "mutuo mutui finanziamento finanziamenti banca",
    "valuation": "valutazione valutazioni valutare stima stime gratuita gratis",
    "visit": "visita visite visitare vedere appuntamento sopralluogo",
    "rent": "affitto affitti affittare locazione",
    "contact": "email mail telefono contattarvi contatto whatsapp",
}.items():
    for w in words.split():
        _CONCEPTS[w] = concept
_STOP_WORDS = (
    "a ad al alla ai agli che chi come con da dal dalla dei del della di e ed il in la le lo "
    "gli i mi ci si un una uno per su sul voi vi noi io lei quale quali qual quanto quanta "
    "quanti quante quando cosa e' ma o anche sono siete avete fate fa posso potete puo "
    "vorrei volevo sapere senta scusi buongiorno salve grazie"
)
_STOP = frozenset(_STOP_WORDS.split())


def _concepts(text: str) -> set[str]:
    out = set()
    for w in re.findall(r"[a-z]+", fold(text)):
        if w in _STOP or len(w) < 3:
            continue
        out.add(_CONCEPTS.get(w, w[:5]))
    return out


@dataclass(frozen=True)
class FaqAnswer:
    question: str
    answer: str
    score: float


class FaqMatcher:
    # At or above this score a match is certain enough to be read out as it is; below
    # it (but above ``threshold``) the engine lets an LLM, when there is one, try to
    # answer from the whole FAQ first and keeps this match as its fallback.
    confident = 0.75

    def __init__(self, faq: list[dict[str, Any]], *, threshold: float = 0.5) -> None:
        self.entries = [
            (str(e.get("question", "")), str(e.get("answer", "")))
            for e in faq or []
            if e.get("question") and e.get("answer")
        ]
        self.threshold = threshold
        self._concepts = [_concepts(q) for q, _ in self.entries]

    def match(self, text: str) -> FaqAnswer | None:
        asked = _concepts(text)
        best: FaqAnswer | None = None
        for (question, answer), concepts in zip(self.entries, self._concepts, strict=True):
            overlap = len(asked & concepts) / max(1, min(len(concepts), 3))
            fuzzy = fuzz.token_set_ratio(fold(text), fold(question)) / 100
            score = max(overlap, fuzzy - 0.25)
            if score >= self.threshold and (best is None or score > best.score):
                best = FaqAnswer(question, answer, round(score, 2))
        return best
