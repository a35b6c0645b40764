"""Single-field extractors: property type, request type, urgency, call-back time, phone.

Each returns ``(value, confidence)`` or ``None``. They work on folded text
(see :func:`agent.extraction.text.fold`) and never raise on odd input.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz, process

from agent.extraction.numbers import word_value
from agent.extraction.text import fold, has_phrase

Found = tuple[str, float]

# --- property type -----------------------------------------------------------

# (phrases, canonical value) — first match in this order wins, so the specific
# "villetta a schiera" comes before "villa" and "casa indipendente" before "casa".
_PROPERTY: list[tuple[tuple[str, ...], str]] = [
    (("monolocale", "monolocali", "un locale", "1 locale", "studio"), "monolocale"),
    (("bilocale", "bilocali", "due locali", "2 locali"), "bilocale"),
    (("trilocale", "trilocali", "tre locali", "3 locali"), "trilocale"),
    (
        ("quadrilocale", "quadrilocali", "quattro locali", "4 locali", "quattrolocali"),
        "quadrilocale",
    ),
    (("pentalocale", "cinque locali", "5 locali"), "pentalocale"),
    (("villetta", "villette", "villetta a schiera", "casa a schiera", "schiera"), "villetta"),
    (("villa", "ville"), "villa"),
    (("attico", "attici", "superattico"), "attico"),
    (("loft", "open space"), "loft"),
    (("mansarda",), "mansarda"),
    (
        (
            "casa indipendente",
            "casa singola",
            "casa indipendenti",
            "indipendente",
            "casale",
            "cascina",
            "rustico",
        ),
        "casa indipendente",
    ),
    (("ufficio", "uffici", "studio professionale"), "ufficio"),
    (("negozio", "negozi", "locale commerciale", "spazio commerciale", "vetrina"), "negozio"),
    (("capannone", "magazzino", "laboratorio"), "capannone"),
    (("box", "garage", "posto auto", "autorimessa"), "box"),
    (("terreno", "terreni", "lotto edificabile", "terreno edificabile"), "terreno"),
    (("appartamento", "appartamenti", "appartamentino", "casa", "abitazione"), "appartamento"),
]
_FUZZY_PROPERTY = {
    p: v for phrases, v in _PROPERTY for p in phrases if " " not in p and len(p) >= 6
}


_SPLIT_ROOMS = re.compile(r"\b(mono|bi|tri|quadri|penta) (locale|locali)\b")


def property_type(folded: str) -> Found | None:
    # Whisper sometimes splits the word: "tri locale" -> "trilocale".
    folded = _SPLIT_ROOMS.sub(lambda m: m.group(1) + m.group(2), folded)
    # "casa" alone ("cerco casa") says nothing about the type: only count it when
    # nothing more specific is there, and with low confidence.
    for phrases, value in _PROPERTY:
        for phrase in phrases:
            if has_phrase(folded, phrase):
                if phrase == "casa" and not has_phrase(
                    folded, "una casa", "la casa", "casa mia", "mia casa"
                ):
                    continue
                if phrase == "studio" and has_phrase(folded, "citta studi", "studio legale"):
                    continue
                if phrase == "un locale" and has_phrase(folded, "locale commerciale"):
                    continue
                conf = 0.6 if phrase in ("casa", "abitazione", "indipendente") else 0.95
                return value, conf
    for word in set(re.findall(r"[a-z]{6,}", folded)) - {"locale", "locali"}:
        hit = process.extractOne(word, list(_FUZZY_PROPERTY), scorer=fuzz.ratio, score_cutoff=85)
        if hit:
            return _FUZZY_PROPERTY[hit[0]], 0.7
    return None


# --- request type --------------------------------------------------------------

_RENT_OUT = (
    "dare in affitto",
    "mettere in affitto",
    "affittare il mio",
    "affittare la mia",
    "affittare casa mia",
    "affitto il mio",
    "affitto la mia",
    "dare in locazione",
    "locare il mio",
    "locare la mia",
    "da affittare",
    "cerco un inquilino",
    "cerco inquilini",
    "trovare un inquilino",
    "affittarlo",
    "affittarla",
    "darlo in affitto",
    "darla in affitto",
    "darli in affitto",
    "darlo in locazione",
    "darla in locazione",
    "metterlo in affitto",
    "metterla in affitto",
)
_VALUATION = (
    "valutazione",
    "valutare",
    "quanto vale",
    "quanto potrebbe valere",
    "stima",
    "stimare",
    "perizia",
)
_SELL = (
    "vendere",
    "venderlo",
    "venderla",
    "vendo",
    "vendiamo",
    "mettere in vendita",
    "metterlo in vendita",
    "metterla in vendita",
    "cedere",
    "vorrei vendere",
    "vendita della mia",
    "vendita del mio",
)
_RENT = (
    "in affitto",
    "affittare",
    "affitto",
    "prendere in affitto",
    "locazione",
    "affittasi",
    "affitti",
)
_BUY = (
    "comprare",
    "acquistare",
    "acquisto",
    "compro",
    "compra",
    "comprarne",
    "cerco casa",
    "cerco una casa",
    "sto cercando",
    "cerco",
    "cerchiamo",
    "in vendita",
    "prima casa",
    "mutuo",
)


def request_type(folded: str, *, expecting: bool = False) -> Found | None:
    """buy | sell | rent (caller looks for a rental) | rent_out (landlord) | valuation."""
    if has_phrase(folded, *_RENT_OUT):
        return "rent_out", 0.9
    sell = has_phrase(folded, *_SELL)
    if has_phrase(folded, *_VALUATION):
        return "valuation", 0.9
    if sell:
        return "sell", 0.9
    if has_phrase(folded, *_RENT):
        return "rent", 0.9 if has_phrase(folded, "in affitto", "prendere in affitto") else 0.8
    if has_phrase(folded, *_BUY):
        strong = has_phrase(folded, "comprare", "acquistare", "acquisto", "compro", "comprarne")
        return "buy", 0.9 if strong else 0.7
    if expecting:
        words = re.findall(r"[a-z]{4,}", folded)
        options = {
            "acquistare": "buy",
            "comprare": "buy",
            "vendere": "sell",
            "affittare": "rent",
            "valutazione": "valuation",
        }
        for w in words:
            hit = process.extractOne(w, list(options), scorer=fuzz.ratio, score_cutoff=80)
            if hit:
                return options[hit[0]], 0.7
    return None


# --- urgency -----------------------------------------------------------------

_HIGH = (
    "urgente",
    "urgentemente",
    "urgenza",
    "subito",
    "immediato",
    "immediatamente",
    "al piu presto",
    "prima possibile",
    "il prima possibile",
    "appena possibile",
    "prima che si puo",
    "quanto prima",
    "entro un mese",
    "entro una settimana",
    "entro due settimane",
    "entro 1 mese",
    "entro fine mese",
    "questo mese",
    "questa settimana",
    "ho fretta",
    "abbastanza fretta",
    "molta fretta",
    "di fretta",
    "a breve",
    "da subito",
)
_LOW = (
    "non ho fretta",
    "nessuna fretta",
    "senza fretta",
    "non c'e fretta",
    "non c' e fretta",
    "con calma",
    "sto solo guardando",
    "solo guardando",
    "solo un'occhiata",
    "mi sto guardando intorno",
    "mi guardo intorno",
    "sto guardando",
    "il prossimo anno",
    "l' anno prossimo",
    "tra un anno",
    "fra un anno",
    "entro un anno",
    "non e urgente",
    "nessuna urgenza",
)
_MEDIUM = (
    "nei prossimi mesi",
    "prossimi mesi",
    "qualche mese",
    "entro tre mesi",
    "entro sei mesi",
    "entro 3 mesi",
    "entro 6 mesi",
    "entro due mesi",
    "entro 2 mesi",
    "entro l' estate",
    "entro l' anno",
    "entro fine anno",
    "entro la fine dell' anno",
    "fine dell' anno",
    "entro la fine dell'anno",
    "in primavera",
    "in autunno",
    "dopo l' estate",
    "tra qualche mese",
    "fra qualche mese",
    "tra due mesi",
    "tra tre mesi",
    "a medio termine",
)


def urgency(folded: str, *, expecting: bool = False) -> Found | None:
    # "non ho fretta" contains "fretta": the negated forms are checked first.
    if has_phrase(folded, *_LOW):
        return "low", 0.9
    if expecting and has_phrase(folded, "ho tempo", "c' e tempo", "non subito"):
        return "low", 0.8
    if has_phrase(folded, *_MEDIUM):
        return "medium", 0.85
    if has_phrase(folded, *_HIGH):
        return "high", 0.9
    m = re.search(r"entro (\w+) (mesi|mese|settimane|settimana)", folded)
    if m:
        n = word_value(m.group(1))
        if n is not None:
            weeks = n * (4 if m.group(2).startswith("mes") else 1)
            return ("high" if weeks <= 5 else "medium" if weeks <= 26 else "low"), 0.8
    return None


# --- call-back time ------------------------------------------------------------

_DAYS = (
    "oggi",
    "domani",
    "dopodomani",
    "lunedi",
    "martedi",
    "mercoledi",
    "giovedi",
    "venerdi",
    "sabato",
    "domenica",
    "in settimana",
    "nel weekend",
    "nel fine settimana",
)
_PARTS = (
    ("in mattinata", "in mattinata"),
    ("di mattina", "di mattina"),
    ("la mattina", "la mattina"),
    ("mattina", "mattina"),
    ("ora di pranzo", "all'ora di pranzo"),
    ("pausa pranzo", "all'ora di pranzo"),
    ("dopo pranzo", "dopo pranzo"),
    ("a pranzo", "all'ora di pranzo"),
    ("primo pomeriggio", "primo pomeriggio"),
    ("tardo pomeriggio", "tardo pomeriggio"),
    ("nel pomeriggio", "nel pomeriggio"),
    ("di pomeriggio", "di pomeriggio"),
    ("pomeriggio", "pomeriggio"),
    ("in serata", "in serata"),
    ("di sera", "di sera"),
    ("la sera", "la sera"),
    ("stasera", "stasera"),
    ("sera", "sera"),
)
_ANYTIME = (
    "quando volete",
    "quando vuole",
    "qualsiasi ora",
    "a qualsiasi ora",
    "sempre",
    "quando preferite",
)
_TIME = re.compile(
    r"\b(dopo le|prima delle|verso le|alle|dalle|entro le|tra le|fra le|intorno alle)\s+"
    r"([a-z0-9]+)(?:[.:]([0-9]{2})| e (mezza|mezzo|trenta|un quarto))?"
    r"(?:\s+(?:alle|e le)\s+([a-z0-9]+))?"
)
_HOUR_WORDS = {
    "una": 13,
    "l'una": 13,
}


def _hour(token: str) -> int | None:
    if token in _HOUR_WORDS:
        return _HOUR_WORDS[token]
    value = word_value(token)
    if value is None or value != int(value) or not 0 <= value <= 24:
        return None
    hour = int(value)
    # Office call-backs: "alle 5" means 17:00.
    return hour + 12 if 1 <= hour <= 7 else hour


def callback_time(folded: str, *, expecting: bool = False) -> Found | None:
    folded = re.sub(r"\bdomattina\b", "domani mattina", folded)
    parts: list[str] = []
    for day in _DAYS:
        if has_phrase(folded, day):
            parts.append(day.replace("lunedi", "lunedì").replace("martedi", "martedì"))
            parts[-1] = parts[-1].replace("mercoledi", "mercoledì").replace("giovedi", "giovedì")
            parts[-1] = parts[-1].replace("venerdi", "venerdì")
            break
    m = _TIME.search(folded)
    # "dopo le sei di sera" is "dopo le 18": the hour already says the part of the day.
    for phrase, label in _PARTS if not (m and _hour(m.group(2)) is not None) else ():
        if has_phrase(folded, phrase):
            parts.append(label)
            break
    if m:
        hour = _hour(m.group(2))
        if hour is not None:
            minutes = m.group(3) or {"mezza": "30", "mezzo": "30", "trenta": "30"}.get(
                m.group(4) or "", "15" if m.group(4) else ""
            )
            text = f"{m.group(1)} {hour}" + (f":{minutes}" if minutes else "")
            if m.group(5):
                end = _hour(m.group(5))
                if end is not None:
                    text += f" alle {end}"
            parts.append(text)
    if parts:
        return " ".join(parts), 0.85
    if expecting and has_phrase(folded, *_ANYTIME):
        return "qualsiasi orario", 0.8
    return None


# --- phone numbers -------------------------------------------------------------

_DIGIT_WORDS = {
    "zero": "0",
    "uno": "1",
    "un": "1",
    "due": "2",
    "tre": "3",
    "quattro": "4",
    "cinque": "5",
    "sei": "6",
    "sette": "7",
    "otto": "8",
    "nove": "9",
}


def phone_number(text: str, *, expecting: bool = False) -> Found | None:
    """A phone number spoken as digits or digit words ('tre tre tre, uno due...')."""
    folded = fold(text)
    if not expecting and not has_phrase(
        folded, "numero", "cellulare", "telefono", "chiamatemi al", "richiamatemi al"
    ):
        return None
    digits = ""
    best = ""
    for tok in re.findall(r"\+?[0-9]+|[a-z]+", folded.replace(".", " ").replace("-", " ")):
        if tok.lstrip("+").isdigit():
            digits += tok
        elif tok in _DIGIT_WORDS:
            digits += _DIGIT_WORDS[tok]
        elif tok in ("piu", "e", "virgola"):
            continue
        else:
            if len(digits.lstrip("+")) > len(best.lstrip("+")):
                best = digits
            digits = ""
    if len(digits.lstrip("+")) > len(best.lstrip("+")):
        best = digits
    count = len(best.lstrip("+"))
    if 8 <= count <= 13:
        if best.startswith("0039"):
            best = "+" + best[2:]
        elif best.startswith("39") and count >= 11:
            best = "+" + best
        elif not best.startswith("+"):
            best = "+39" + best
        return best, 0.8
    return None
