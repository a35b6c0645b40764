"""Conversational intents: yes/no, repeat, transfer to a person, goodbye, don't know, question."""

from __future__ import annotations

import re
from enum import StrEnum

from agent.extraction.text import has_phrase


class Intent(StrEnum):
    YES = "yes"
    NO = "no"
    REPEAT = "repeat"
    TRANSFER = "transfer"
    GOODBYE = "goodbye"
    DONT_KNOW = "dont_know"
    QUESTION = "question"


_YES = (
    "si",
    "sì",
    "certo",
    "certamente",
    "esatto",
    "esattamente",
    "corretto",
    "e corretto",
    "giusto",
    "va bene",
    "ok",
    "okay",
    "perfetto",
    "confermo",
    "tutto giusto",
    "tutto corretto",
    "d' accordo",
    "affermativo",
    "assolutamente",
    "proprio cosi",
)
_NO = (
    "no",
    "non e corretto",
    "non e giusto",
    "sbagliato",
    "errato",
    "non proprio",
    "non esattamente",
    "negativo",
    "non va bene",
    "c' e un errore",
)
_REPEAT = (
    "puo ripetere",
    "potrebbe ripetere",
    "puoi ripetere",
    "ripeta",
    "ripetere per favore",
    "come scusi",
    "come ha detto",
    "cosa ha detto",
    "non ho capito",
    "non ho sentito",
    "non la sento bene",
    "non ho capito bene",
    "scusi non ho capito",
    "prego?",
)
_TRANSFER = (
    "operatore",
    "operatrice",
    "una persona",
    "persona vera",
    "persona reale",
    "essere umano",
    "un umano",
    "parlare con qualcuno",
    "parlare con un agente",
    "parlare con un collega",
    "parlare con l' agenzia",
    "parlare con il titolare",
    "parlare con un responsabile",
    "mi passi",
    "mi passa",
    "passarmi",
    "mi metta in contatto",
    "un agente",
    "un consulente",
)
_GOODBYE = (
    "arrivederci",
    "arrivederla",
    "buona giornata",
    "buona serata",
    "ciao",
    "addio",
    "a presto",
    "basta cosi",
    "e tutto",
    "nient' altro",
    "niente altro",
    "devo andare",
    "la saluto",
    "salve e grazie",
    "grazie mille e arrivederci",
)
_DONT_KNOW = (
    "non so",
    "non lo so",
    "non saprei",
    "indifferente",
    "e indifferente",
    "non ho preferenze",
    "nessuna preferenza",
    "preferisco non dirlo",
    "non importa",
    "vediamo",
    "dipende",
    "non ho ancora deciso",
    "non ho deciso",
)
_PHATIC = (
    "pronto",
    "pronti",
    "allo",
    "buongiorno",
    "buonasera",
    "salve",
    "ehi",
    "mi sente",
    "mi sentite",
    "mi senti",
    "ci sei",
    "c' e qualcuno",
    "c' e nessuno",
    "si",
)
_QUESTION_START = re.compile(
    r"^(?:(?:e|ma|senta|scusi|allora|buongiorno|salve)[ ,]+)?"
    r"(quali|quale|qual|quanto|quanti|quanta|quante|come|dove|quando|perche|chi|avete|"
    r"siete|fate|fa|posso|potete|puo|e possibile|c' e|ci sono|vorrei sapere|volevo sapere|"
    r"mi sa dire|sapete|mi dica|a che ora|che orari)\b"
)


def _only(folded: str, phrases: tuple[str, ...]) -> bool:
    """The utterance is (almost) only one of ``phrases`` ("sì", "sì grazie", "no no")."""
    rest = folded
    for p in sorted(phrases, key=len, reverse=True):
        rest = re.sub(r"(?<![a-z])" + re.escape(p) + r"(?![a-z])", " ", rest)
    rest = re.sub(r"[^a-z ]", " ", rest)
    leftover = [w for w in rest.split() if w not in {"grazie", "allora", "ecco", "beh", "mah"}]
    return not leftover


def detect(folded: str) -> set[Intent]:
    """All intents present in ``folded`` (already :func:`fold`-ed) text."""
    found: set[Intent] = set()
    first = re.split(r"[ ,.!?]+", folded.strip(), maxsplit=1)[0] if folded.strip() else ""
    if first in {"si", "certo", "esatto", "giusto", "ok", "okay", "perfetto", "confermo"} or (
        has_phrase(folded, *_YES) and _only(folded, _YES)
    ):
        found.add(Intent.YES)
    if first == "no" or has_phrase(folded, *_NO[1:]):
        found.add(Intent.NO)
    if has_phrase(folded, *_REPEAT) or folded.strip(" ?") in {"come", "scusi", "prego", "cosa"}:
        found.add(Intent.REPEAT)
    if has_phrase(folded, *_TRANSFER):
        found.add(Intent.TRANSFER)
    if has_phrase(folded, *_GOODBYE):
        found.add(Intent.GOODBYE)
    if has_phrase(folded, *_DONT_KNOW):
        found.add(Intent.DONT_KNOW)
    # "Pronto? Mi sente?" is a caller checking the line, not a question to answer.
    if ("?" in folded or _QUESTION_START.search(folded)) and not _only(folded, _PHATIC):
        found.add(Intent.QUESTION)
    return found
