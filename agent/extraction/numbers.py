"""Italian numbers as people say them and as Whisper writes them.

Handles number words written as one word ("trecentocinquantamila") or several
("duecento cinquanta mila"), digits with Italian separators ("350.000", "1,2"),
digits with scale words ("350 mila", "300mila", "350k", "1,2 milioni") and the
colloquial "un milione e due" (1.2 million) / "un milione e mezzo".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from agent.extraction.text import fold

_UNITS: dict[str, int] = {
    "zero": 0,
    "un": 1,
    "uno": 1,
    "una": 1,
    "due": 2,
    "tre": 3,
    "quattro": 4,
    "cinque": 5,
    "sei": 6,
    "sette": 7,
    "otto": 8,
    "nove": 9,
    "dieci": 10,
    "undici": 11,
    "dodici": 12,
    "tredici": 13,
    "quattordici": 14,
    "quindici": 15,
    "sedici": 16,
    "diciassette": 17,
    "diciotto": 18,
    "diciannove": 19,
    "venti": 20,
    "vent": 20,
    "trenta": 30,
    "trent": 30,
    "quaranta": 40,
    "quarant": 40,
    "cinquanta": 50,
    "cinquant": 50,
    "sessanta": 60,
    "sessant": 60,
    "settanta": 70,
    "settant": 70,
    "ottanta": 80,
    "ottant": 80,
    "novanta": 90,
    "novant": 90,
}
_HUNDRED = {"cento": 100, "cent": 100}
# Multipliers of what precedes them; "mille" alone means one thousand.
SCALES: dict[str, int] = {
    "mila": 1000,
    "mille": 1000,
    "k": 1000,
    "milione": 1_000_000,
    "milioni": 1_000_000,
    "mln": 1_000_000,
    "miliardo": 1_000_000_000,
    "miliardi": 1_000_000_000,
}
_MORPHEMES = sorted(
    [*_UNITS, *_HUNDRED, "mila", "mille", "milione", "milioni"], key=len, reverse=True
)

_DIGITS_THOUSANDS = re.compile(r"^\d{1,3}(?:[.,]\d{3})+$")
_DIGITS_DECIMAL = re.compile(r"^\d+[.,]\d+$")
_DIGITS = re.compile(r"^\d+$")


@lru_cache(maxsize=4096)
def split_number_word(word: str) -> tuple[str, ...] | None:
    """'trecentocinquantamila' -> ('tre', 'cento', 'cinquanta', 'mila'); None if not a number."""
    if not word or not word.isalpha():
        return None
    if word in _UNITS or word in _HUNDRED or word in SCALES:
        return (word,)

    # Depth-first: longest morpheme first, backtrack when the rest does not parse
    # ("settanta" must not be read as "sette" + "anta").
    def parse(rest: str) -> tuple[str, ...] | None:
        if not rest:
            return ()
        for m in _MORPHEMES:
            if rest.startswith(m):
                tail = parse(rest[len(m) :])
                if tail is not None:
                    return (m, *tail)
        return None

    parts = parse(word)
    # Elided stems ("vent", "cent") only exist in front of another morpheme.
    if parts and parts[-1] in {"vent", "trent", "quarant", "cinquant", "sessant", "settant"}:
        return None
    if parts and parts[-1] in {"ottant", "novant", "cent"}:
        return None
    return parts


def digits_value(token: str) -> float | None:
    """'350.000' -> 350000, '1,2' -> 1.2, '350' -> 350; None if not digits."""
    if _DIGITS.match(token):
        return float(int(token))
    if _DIGITS_THOUSANDS.match(token):
        return float(int(re.sub(r"[.,]", "", token)))
    if _DIGITS_DECIMAL.match(token):
        return float(token.replace(",", "."))
    return None


def evaluate(items: list[float | str]) -> float:
    """Evaluate morphemes / digit values / scale words left to right."""
    total = 0.0
    current = 0.0
    for item in items:
        if isinstance(item, float):
            current += item
        elif item in _UNITS:
            current += _UNITS[item]
        elif item in _HUNDRED:
            current = (current or 1) * 100
        elif item == "mezzo":
            current += 0.5
        elif item in SCALES:
            total += (current or 1) * SCALES[item]
            current = 0.0
    return total + current


def word_value(word: str) -> float | None:
    """Value of one number word or digit token ('ventitre' -> 23)."""
    value = digits_value(word)
    if value is not None:
        return value
    parts = split_number_word(word)
    if parts is None:
        return None
    return evaluate(list(parts))


@dataclass(frozen=True)
class Amount:
    value: float
    start: int  # index of the first token
    end: int  # index after the last token
    scale: int  # largest scale word used (1 when none: "350")
    digits: bool  # written with digits (Whisper style) rather than words

    @property
    def has_scale(self) -> bool:
        return self.scale > 1


def tokenize(text: str) -> list[str]:
    """Folded tokens with digits split from glued words ('300mila' -> '300', 'mila')."""
    folded = fold(text).replace("€", " euro ")
    folded = re.sub(r"(\d)([a-z])", r"\1 \2", folded)
    folded = re.sub(r"([a-z])(\d)", r"\1 \2", folded)
    # "400-450 mila", "400/450": a range.
    folded = re.sub(r"(\d)\s*[-/]\s*(\d)", r"\1 a \2", folded)
    # Commas between words are kept: "quattrocento, quattrocentocinquanta" is two numbers.
    tokens = re.findall(r"\d+(?:[.,]\d+)*|[a-z]+|,", folded)
    return tokens


def _is_numeric(token: str) -> bool:
    return (
        digits_value(token) is not None
        or split_number_word(token) is not None
        or token in SCALES
        or token == "mezzo"
    )


def _items(token: str) -> list[float | str]:
    value = digits_value(token)
    if value is not None:
        return [value]
    if token in SCALES or token == "mezzo":
        return [token]
    parts = split_number_word(token)
    return list(parts or ())


def _span_scale(tokens: list[str]) -> int:
    scale = 1
    for tok in tokens:
        for item in _items(tok):
            if isinstance(item, str) and item in SCALES:
                scale = max(scale, SCALES[item])
    return scale


def find_amounts(tokens: list[str]) -> list[Amount]:
    """Every number in ``tokens`` with its token span."""
    amounts: list[Amount] = []
    i = 0
    n = len(tokens)
    while i < n:
        if not _is_numeric(tokens[i]) or (tokens[i] in SCALES and tokens[i] not in ("mille",)):
            i += 1
            continue
        j = i
        items: list[float | str] = []
        last_digit = False
        while j < n and _is_numeric(tokens[j]):
            is_digit = digits_value(tokens[j]) is not None
            # Two digit groups in a row are two numbers ("200 250"), not one; nor are
            # words then digits ("un 400 mila": the "un" is an article).
            if is_digit and items and items[-1] not in SCALES:
                break
            # "quattrocento quattrocentocinquanta": a new hundreds word after a
            # complete number starts another number.
            if (
                not is_digit
                and items
                and items[-1] not in SCALES
                and tokens[j] not in SCALES
                and tokens[j] != "mezzo"
                and (word_value(tokens[j]) or 0) >= 100
                and evaluate(items) >= 100
            ):
                break
            items.extend(_items(tokens[j]))
            last_digit = is_digit
            j += 1
        # "trecento e cinquanta mila": hundreds "e" tens, said with a pause.
        if (
            j + 1 < n
            and tokens[j] == "e"
            and not last_digit
            and items
            and 100 <= evaluate(items) < 1000
            and evaluate(items) % 100 == 0
            and tokens[j + 1] not in SCALES
            and (word_value(tokens[j + 1]) or 100) < 100
        ):
            items.extend(_items(tokens[j + 1]))
            j += 2
            while j < n and tokens[j] in SCALES:
                items.extend(_items(tokens[j]))
                j += 1
        value = evaluate(items)
        scale = _span_scale(tokens[i:j])
        # "un milione e due" / "un milione e mezzo" / "un milione e 200": after a
        # scale word, "e" + a small number without its own scale is a fraction of it.
        if j + 1 < n and tokens[j] == "e" and scale >= 1000 and tokens[j - 1] in SCALES:
            k = j + 1
            tail: list[str] = []
            while k < n and _is_numeric(tokens[k]) and tokens[k] not in SCALES:
                tail.append(tokens[k])
                k += 1
            scaled_next = k < n and tokens[k] in SCALES
            if tail and not scaled_next:
                rest = evaluate([x for t in tail for x in _items(t)])
                if tail == ["mezzo"]:
                    value += 0.5 * scale
                    j = k
                elif rest < 10:
                    value += rest / 10 * scale
                    j = k
                elif scale == 1_000_000 and 100 <= rest < 1000:
                    value += rest * 1000
                    j = k
        # A lone article ("un trilocale") is not a number.
        if not (j - i == 1 and tokens[i] in ("un", "una") and value == 1):
            digits = any(digits_value(t) is not None for t in tokens[i:j])
            amounts.append(Amount(value, i, j, scale, digits))
        i = max(j, i + 1)
    return amounts


def parse_number(text: str) -> float | None:
    """The first number in ``text`` ('un milione e mezzo' -> 1500000.0)."""
    found = find_amounts(tokenize(text))
    return found[0].value if found else None
