"""Budgets and price ranges in euros from Italian speech.

"tra 200 e 250 mila", "dai 300 ai 350 mila", "massimo 400 mila", "non più di",
"almeno", "sui 400", "€ 1,2 milioni", "800 euro al mese". A single amount is read
as the maximum (what a buyer means by "il mio budget è 300 mila"), unless a
minimum cue ("almeno", "da ... in su") says otherwise.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from agent.extraction.numbers import SCALES, Amount, find_amounts, tokenize

# A number followed by one of these counts rooms, metres, time... not euros.
_NOT_MONEY_AFTER = {
    "metri",
    "metro",
    "mq",
    "m",
    "metriquadri",
    "quadri",
    "camere",
    "camera",
    "stanze",
    "stanza",
    "locali",
    "vani",
    "bagni",
    "bagno",
    "piani",
    "piano",
    "anni",
    "anno",
    "mesi",
    "mese",
    "settimane",
    "settimana",
    "giorni",
    "giorno",
    "ore",
    "ora",
    "minuti",
    "figli",
    "persone",
    "posti",
    "auto",
    "minuto",
    "chilometri",
    "km",
    "percento",
    "per",
}
# ...and after these it is a time ("dopo le 18"), a floor or an address.
_NOT_MONEY_BEFORE = {"le", "alle", "dalle", "delle", "ore", "piano", "civico", "via", "numero"}
_BUDGET_WORDS = {
    "budget",
    "spendere",
    "spesa",
    "prezzo",
    "cifra",
    "costo",
    "euro",
    "massimo",
    "max",
    "fino",
    "almeno",
    "minimo",
    "sui",
    "sugli",
    "circa",
    "intorno",
    "attorno",
    "tra",
    "fra",
    "dai",
    "dagli",
    "disponibilita",
    "investire",
    "mutuo",
    "canone",
    "affitto",
    "valore",
}
_MAX_CUES = [
    ("non", "piu", "di"),
    ("non", "oltre"),
    ("non", "superiore"),
    ("al", "massimo"),
    ("massimo",),
    ("max",),
    ("fino", "a"),
    ("fino", "ai"),
    ("fino", "agli"),
    ("fino", "al"),
    ("entro", "i"),
    ("entro", "gli"),
    ("sotto", "i"),
    ("sotto",),
    ("meno", "di"),
]
_MIN_CUES = [
    ("almeno",),
    ("minimo",),
    ("a", "partire", "da"),
    ("a", "partire", "dai"),
    ("piu", "di"),
    ("oltre",),
    ("sopra", "i"),
    ("sopra",),
]
_RANGE_MIDDLE = {"e", "a", "ai", "agli", "al", "alle", "fino", "i", "gli"}


@dataclass(frozen=True)
class Budget:
    min: int | None
    max: int | None
    confidence: float


def _ends_with(tokens: list[str], end: int, cue: tuple[str, ...]) -> bool:
    start = end - len(cue)
    return start >= 0 and tuple(tokens[start:end]) == cue


def _money_amounts(tokens: list[str], expecting: bool) -> list[Amount]:
    found = find_amounts(tokens)
    money = _filter_money(tokens, found, expecting)
    # "da 300 a 350 mila": a bare number joined to a money amount is the range's start.
    out = []
    for i, a in enumerate(found):
        if a in money:
            out.append(a)
        elif i + 1 < len(found) and found[i + 1] in money:
            between = tokens[a.end : found[i + 1].start]
            if between and all(t in _RANGE_MIDDLE for t in between) and a.value >= 1:
                out.append(a)
    return out


def _filter_money(tokens: list[str], found: list[Amount], expecting: bool) -> list[Amount]:
    out = []
    for a in found:
        after = tokens[a.end] if a.end < len(tokens) else ""
        before = tokens[a.start - 1] if a.start > 0 else ""
        if after in _NOT_MONEY_AFTER and not a.has_scale:
            continue
        if before in _NOT_MONEY_BEFORE and not a.has_scale and a.value < 10000:
            continue
        raw = tokens[a.start]
        # A long run of digits is a phone number, not a price.
        if a.digits and raw.isdigit() and len(raw) >= 7:
            continue
        context = set(tokens[max(0, a.start - 4) : min(len(tokens), a.end + 2)])
        if (
            a.has_scale
            or a.value >= 10000
            or after == "euro"
            or expecting
            or (context & _BUDGET_WORDS and a.value >= 50)
        ):
            out.append(a)
    return out


def _scaled(a: Amount, value: float, rent: bool, expecting: bool) -> tuple[int, float]:
    """Apply an implied 'mila' ('sui 400' when asked the budget of a purchase)."""
    if a.has_scale or value >= 10000 or rent:
        return round(value), 0.9 if (a.has_scale or value >= 10000) else 0.8
    if 50 <= value < 10000:
        # Nobody buys a house for 400 euros: "sui 400" means 400 thousand.
        return round(value * 1000), 0.7 if expecting else 0.6
    return round(value), 0.5


def extract_budget(text: str, *, expecting: bool = False, rent: bool = False) -> Budget | None:
    """The budget mentioned in ``text``; ``expecting`` when the agent just asked for it."""
    tokens = tokenize(text)
    amounts = _money_amounts(tokens, expecting)
    if not amounts:
        return None
    rent = rent or bool({"mese", "mensili", "mensile", "canone"} & set(tokens))

    # Range: two amounts joined by "e"/"a"/"ai", optionally after "tra"/"dai".
    for first, second in itertools.pairwise(amounts):
        between = tokens[first.end : second.start]
        if not between or not all(t in _RANGE_MIDDLE for t in between):
            continue
        lo_v, hi_v = first.value, second.value
        # "tra 200 e 250 mila": the first number borrows the scale of the second.
        if not first.has_scale and second.has_scale and lo_v * 100 <= hi_v:
            lo_v *= second.scale
        lo, c1 = _scaled(first, lo_v, rent, expecting or second.has_scale)
        hi, c2 = _scaled(second, hi_v, rent, expecting)
        if lo > hi:
            lo, hi = hi, lo
        return Budget(lo, hi, min(c1, c2))

    # Several single amounts ("diciamo 350, massimo 380"): the one with a cue wins.
    found = [b for b in (_single(tokens, a, rent, expecting) for a in amounts) if b]
    cued = [b for b, has_cue in found if has_cue]
    if cued:
        return cued[0]
    return found[0][0] if found else None


def _single(
    tokens: list[str], a: Amount, rent: bool, expecting: bool
) -> tuple[Budget, bool] | None:
    """One amount as a budget, and whether a min/max cue was said with it."""
    value, conf = _scaled(a, a.value, rent, expecting)
    if value < 50:
        return None
    after = tokens[a.end : a.end + 2]
    if after == ["in", "su"] or after[:1] == ["minimo"]:
        return Budget(value, None, conf), True
    for cue in _MAX_CUES:
        if _ends_with(tokens, a.start, cue) or _ends_with(tokens, a.start - 1, cue):
            return Budget(None, value, conf), True
    for cue in _MIN_CUES:
        if _ends_with(tokens, a.start, cue) or _ends_with(tokens, a.start - 1, cue):
            return Budget(value, None, conf), True
    return Budget(None, value, conf), False


__all__ = ["SCALES", "Budget", "extract_budget"]
