"""Single-field extractors: property type, request type, urgency, call-back time, phone.

Each returns ``(value, confidence)`` or ``None``. They work on folded text
(see :func:`agent.extraction.text.fold`) and never raise on odd input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    (
        ("ufficio", "uffici", "studio professionale", "studio legale", "studio medico"),
        "ufficio",
    ),
    (("negozio", "negozi", "locale commerciale", "spazio commerciale", "vetrina"), "negozio"),
    (("capannone", "magazzino", "laboratorio"), "capannone"),
    (("box", "garage", "posto auto", "autorimessa"), "box"),
    (("terreno", "terreni", "lotto edificabile", "terreno edificabile"), "terreno"),
    (("appartamento", "appartamenti", "appartamentino", "casa", "abitazione"), "appartamento"),
]
_FUZZY_PROPERTY = {
    p: v for phrases, v in _PROPERTY for p in phrases if " " not in p and len(p) >= 6
}


_NOT_A_STUDIO = re.compile(r"\bcitta studi[o]?\b")
_SPLIT_ROOMS = re.compile(r"\b(mono|bi|tri|quadri|penta) (locale|locali)\b")


def property_type(folded: str) -> Found | None:
    # Whisper sometimes splits the word: "tri locale" -> "trilocale".
    folded = _SPLIT_ROOMS.sub(lambda m: m.group(1) + m.group(2), folded)
    # "Città Studi(o)" is a zone, not a studio flat: it must not hide "un trilocale".
    folded = _NOT_A_STUDIO.sub(" ", folded)
    # "casa" alone ("cerco casa") says nothing about the type: only count it when
    # nothing more specific is there, and with low confidence.
    for phrases, value in _PROPERTY:
        for phrase in phrases:
            if has_phrase(folded, phrase):
                if phrase == "casa" and not has_phrase(
                    folded, "una casa", "la casa", "casa mia", "mia casa"
                ):
                    continue
                if phrase == "studio" and has_phrase(
                    folded, "studio professionale", "studio legale", "studio medico"
                ):
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
    "stiamo cercando",
    "siamo alla ricerca",
    "sono alla ricerca",
    "cerco",
    "cerchiamo",
    "in vendita",
    "prima casa",
    "mutuo",
)


# Where the caller lives now, not what they want: "siamo in affitto e vorremmo comprare".
_RENTING_NOW = re.compile(
    r"\b(?:sono|siamo|sto|stiamo|vivo|viviamo|abito|abitiamo)"
    r"(?: (?:gia|attualmente|ora|adesso|ancora|tuttora))? in affitto\b"
)


def request_type(folded: str, *, expecting: bool = False) -> Found | None:
    """buy | sell | rent (caller looks for a rental) | rent_out (landlord) | valuation."""
    folded = _RENTING_NOW.sub(" ", folded)
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


# --- urgency and timing ----------------------------------------------------------
#
# Callers say when, not how urgent: "entro l'estate", "tra sei mesi", "non ho fretta".
# The product has three levels, read from the horizon: high within about a month (or
# "il prima possibile"), medium within about six months (a season, a month, the end
# of the year), low beyond that or no hurry. The caller's words are kept too (the
# timing text), so the agent reads them back and the agency sees them.

HIGH_WEEKS = 5.0  # up to about a month
MEDIUM_WEEKS = 27.0  # up to about six months
_UNIT_WEEKS = {
    "giorno": 1 / 7,
    "giorni": 1 / 7,
    "settimana": 1.0,
    "settimane": 1.0,
    "mese": 4.35,
    "mesi": 4.35,
    "anno": 52.0,
    "anni": 52.0,
}
# Vague quantities: "un paio di mesi", "qualche settimana", "tra molti anni".
_FEW = {
    "un paio di": 2,
    "paio di": 2,
    "qualche": 3,
    "pochi": 2,
    "poche": 2,
    "alcuni": 3,
    "alcune": 3,
    "questo": 1,
    "questa": 1,
    "molti": 6,
    "molte": 6,
    "tanti": 6,
    "tante": 6,
}
_UNITS = "giorni|giorno|settimane|settimana|mesi|mese|anni|anno"
# "entro un mese", "tra sei mesi", "nei prossimi tre mesi", "nelle prossime settimane",
# "nel giro di qualche settimana", "entro i prossimi 6 mesi".
_QUANTIFIED = re.compile(
    r"\b(entro|tra|fra|nel giro di|non prima di|nei|nelle|negli)\s+"
    r"(?:(?:i|le|gli)\s+)?(?:(prossimi|prossime)\s+)?(?:circa\s+)?"
    r"(?:(un paio di|paio di|[a-z]+|[0-9]+)\s+)?"
    rf"({_UNITS})\b(\s+e mezzo)?"
)
_MONTHS = (
    "gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre|novembre|dicembre"
)
_SEASONS = "estate|primavera|autunno|inverno"
# Prepositions that look forward. "a settembre" is as often the past ("è morta a
# settembre") as the future, and so is "da settembre" ("siamo in affitto da settembre"):
# "a"/"in"/"da" + a month, a season or a feast only count as the answer to the urgency
# question.
_FORWARD = (
    r"(?:entro|per|verso|a partire da|a partire dal|a partire dall'|prima di|prima del"
    r"|prima dell'|fino a|fino all'|dopo|dopo l')"
)
# "l'estate scorsa", "il settembre passato", "a settembre dell'anno scorso": the past.
_PAST_AFTER = re.compile(r" ?(?:(?:del|dell'|dello) ?(?:anno )?)?(?:scors|passat)")
_WEEKDAYS = "lunedi|martedi|mercoledi|giovedi|venerdi|sabato|domenica"
# Named points in time, in the caller's words: (pattern, level).
_POINTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), level)
    for p, level in (
        (r"\b(?:entro |per |a )?(?:il|la) (?:mese|settimana) prossim[oa]\b", "high"),
        (r"\b(?:entro |per |a )?(?:il|la) prossim[oa] (?:mese|settimana)\b", "high"),
        (r"\b(?:entro )?(?:la )?fine (?:del )?mese\b", "high"),
        (r"\b(?:entro )?(?:questo mese|questa settimana)\b", "high"),
        (rf"\bentro (?:oggi|stasera|domani|dopodomani|{_WEEKDAYS})\b", "high"),
        (r"\b(?:entro )?(?:la )?fine (?:dell' )?anno\b", "medium"),
        (r"\bentro (?:l' |quest' )anno\b", "medium"),
        (
            rf"\b(?:{_FORWARD}|in|nell'|quest'|questa)\s*(?:(?:fine|inizio|meta) )?"
            rf"(?:(?:l'|la|il) )?(?:{_SEASONS})(?: prossim[oa])?\b",
            "medium",
        ),
        (rf"\b{_FORWARD}\s*(?:(?:fine|inizio|meta) )?(?:{_MONTHS})\b", "medium"),
        (
            r"\b(?:entro|per|prima di|dopo|verso) (?:natale|pasqua|capodanno|ferragosto)\b",
            "medium",
        ),
        (r"\b(?:l' |il )?(?:anno prossimo|prossimo anno)\b", "low"),
        (r"\ba lungo termine\b", "low"),
    )
)
# A horizon right after "call me" is a call-back time, not urgency ("richiamatemi tra
# una settimana"). "Mi chiamo Anna, entro un mese" and "vi chiamo per..." name the
# caller or this call, not a call-back.
_CALL_WORD = re.compile(r"(?:richiam|chiam(?!o\b|iamo\b)|sentir|contatt|telefon)\w*(?: \S+){0,3} $")

_HIGH = (
    "urgente",
    "urgentemente",
    "urgentissimo",
    "urgentissima",
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
    "ho fretta",
    "abbastanza fretta",
    "molta fretta",
    "di fretta",
    "a breve",
    "da subito",
    # Can't wait: urgent, though it starts with "non".
    "non posso aspettare",
    "non possiamo aspettare",
    "non si puo aspettare",
)
_LOW = (
    "non ho fretta",
    "non abbiamo fretta",
    "nessuna fretta",
    "senza fretta",
    "non c' e fretta",
    "non subito",
    "con calma",
    "sto solo guardando",
    "stiamo solo guardando",
    "solo guardando",
    "solo un' occhiata",
    "mi sto guardando intorno",
    "mi guardo intorno",
    "ci guardiamo intorno",
    "sto guardando",
    "solo valutando",
    "non e urgente",
    "non urgente",
    "nessuna urgenza",
)
# "non ho nessuna fretta", "non c'è tutta questa urgenza".
# Within the clause only: "non posso aspettare, è urgente" is urgent.
_NEGATED = re.compile(r"\bnon (?:[^\s,.;:!?]+ ){0,3}(?:fretta|urgente|urgenza)\b")
_CANNOT_WAIT = tuple(p for p in _HIGH if p.startswith("non "))
_ASKED_LOW = ("ho tempo", "abbiamo tempo", "c' e tempo")
_MEDIUM = (
    "prossimi mesi",
    "qualche mese",
    "a medio termine",
)


@dataclass(frozen=True)
class Timing:
    """When the caller needs it: the urgency level and where the caller said it."""

    urgency: str  # high | medium | low
    confidence: float
    start: int  # the caller's words are folded[start:end]
    end: int


def _level(weeks: float) -> str:
    return "high" if weeks <= HIGH_WEEKS else "medium" if weeks <= MEDIUM_WEEKS else "low"


def _quantified(m: re.Match[str]) -> str | None:
    prep, upcoming, amount, unit, half = m.groups()
    if prep in ("nei", "nelle", "negli") and not upcoming:
        return None  # "nei mesi scorsi", "negli anni '80"
    if amount is None:
        # "nei prossimi mesi": a few of them.
        n: float = 1 if not upcoming else {"g": 7, "s": 3, "m": 3, "a": 2}[unit[0]]
    elif amount in _FEW:
        n = _FEW[amount]
    else:
        value = word_value(amount)
        if value is None or value <= 0:
            return None
        n = value
    return _level((n + (0.5 if half else 0)) * _UNIT_WEEKS[unit])


def _phrases(folded: str, phrases: tuple[str, ...]) -> list[tuple[int, int]]:
    spans = []
    for phrase in phrases:
        pattern = r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])"
        spans += [(m.start(), m.end()) for m in re.finditer(pattern, folded)]
    return spans


def timing(folded: str, *, expecting: bool = False, horizons: bool = True) -> Timing | None:
    """The caller's timing in ``folded`` text; ``expecting``: the urgency question was
    just asked, so bare answers count ("settembre", "ho tempo"). ``horizons=False``
    skips named times, which answer the call-back question instead ("la settimana
    prossima")."""
    # A horizon ("tra sei mesi", "entro l'estate") says more than a vague word: it
    # decides the level when there is one.
    concrete: list[tuple[int, int, str]] = []
    if horizons:
        for m in _QUANTIFIED.finditer(folded):
            level = _quantified(m)
            if level is not None and not _CALL_WORD.search(folded[: m.start()]):
                concrete.append((m.start(), m.end(), level))
        for pattern, level in _POINTS:
            for m in pattern.finditer(folded):
                if _PAST_AFTER.match(folded, m.end()):
                    continue
                if not _CALL_WORD.search(folded[: m.start()]):
                    concrete.append((m.start(), m.end(), level))
    # "non ho fretta" contains "ho fretta": a negated form beats what it contains. But
    # "non posso aspettare è urgente" (no comma from the ASR): the "non" is the wait's.
    cannot_wait = {s for s, _ in _phrases(folded, _CANNOT_WAIT)}
    low = _phrases(folded, _LOW) + [
        (m.start(), m.end()) for m in _NEGATED.finditer(folded) if m.start() not in cannot_wait
    ]
    vague = [(s, e, "low") for s, e in low]
    for level, phrases in (("medium", _MEDIUM), ("high", _HIGH)):
        vague += [
            (s, e, level)
            for s, e in _phrases(folded, phrases)
            if not any(ls <= s < le or s <= ls < e for ls, le in low)
        ]
    # Only as the answer to "Entro quando?": "ho tempo", "a settembre", "l'estate".
    asked: list[tuple[int, int, str]] = []
    if expecting and not concrete and not vague:
        asked = [(s, e, "low") for s, e in _phrases(folded, _ASKED_LOW)]
        bare = re.search(
            rf"\b(?:(?:a|ad|in|nell'|da|dal|dall') ?)?(?:(?:l'|la|il) )?"
            rf"(?:{_MONTHS}|{_SEASONS}|natale|pasqua)\b",
            folded,
        )
        if bare and not _PAST_AFTER.match(folded, bare.end()):
            asked.append((bare.start(), bare.end(), "medium"))
    if concrete:
        level, conf = min(concrete)[2], 0.85
    elif vague:
        order = ("low", "medium", "high")  # "non ho fretta" over the "fretta" in it
        level = min(vague, key=lambda v: (order.index(v[2]), v[0]))[2]
        conf = 0.9
    elif asked:
        level, conf = min(asked)[2], 0.8
    else:
        return None
    # The caller's first words with that level: "il prima possibile, il mese prossimo".
    start, end, _ = min(v for v in concrete + vague + asked if v[2] == level)
    return Timing(level, conf, start, end)


def urgency(folded: str, *, expecting: bool = False) -> Found | None:
    found = timing(folded, expecting=expecting)
    return (found.urgency, found.confidence) if found else None


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
