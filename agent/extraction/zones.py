"""Zones from the tenant's list, tolerant of accents, typos and STT errors.

"ai navigli", "zona Citta Studi", "vicino a Porta Romana", "Navili" (Whisper),
"lambrati" (typo) all map to the tenant's spelling. A zone the agency does not
list is still reported when the caller names it explicitly ("zona Bovisa"),
flagged as outside the list, so the lead keeps what the caller said.

Short names are the hard case: one wrong letter in "Brera" ("Breda", Whisper)
scores like an ordinary word one letter away from a zone, so the similarity
score alone must reject it. Such a one-letter slip is accepted only where the
caller is naming a place ("a Breda", "zona Breda", or as the answer to the zone
question) and the word is not a word or place name of written Italian of its own
("Lecce", "turno"), by the wordfreq frequency list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from agent.extraction.spell import ANCHORS, KEYWORDS
from agent.extraction.text import fold, title_name
from agent.stt.lexicon import shared_lexicon

# Words that are never (part of) a zone name; keeps fuzzy matching from reading
# "sola" or "brava" as zones.
_STOP = {
    "a",
    "ai",
    "al",
    "alla",
    "alle",
    "allo",
    "agli",
    "in",
    "di",
    "da",
    "del",
    "della",
    "dei",
    "e",
    "il",
    "la",
    "le",
    "lo",
    "un",
    "una",
    "per",
    "con",
    "che",
    "non",
    "mi",
    "si",
    "zona",
    "vicino",
    "casa",
    "cerco",
    "sono",
    "vorrei",
    "nella",
    "nel",
    "sul",
    "sui",
    "verso",
    "dalle",
    "parte",
    "quartiere",
    "solo",
    "sola",
    "bene",
    "buona",
    "buongiorno",
    "grazie",
    "mila",
    "euro",
    "ho",
    "mio",
    "mia",
    "dove",
    "come",
    "quanto",
    "sempre",
    "anche",
    "poi",
    "ora",
    "ore",
}


# Words right before a place name: "a Breda", "all'Isora", "zona Brena".
_PLACE_CUES = {
    "a",
    "ad",
    "in",
    "zona",
    "zone",
    "quartiere",
    "verso",
    "presso",
    "al",
    "ai",
    "all",
    "alla",
    "allo",
    "agli",
    "alle",
    "nel",
    "nella",
    "nei",
}
# First letters an ASR swaps (voiced/unvoiced and similar sounds): "Prera" for "Brera".
_FIRST_LETTER_SLIPS = {frozenset(p) for p in ("bp", "dt", "cg", "fv", "bv", "sz", "mn")}
# A one-letter slip is only believed for a heard word that is not itself a word or
# place name of written Italian: "ottica", "Lecce", "turno", "affari", "Imola" are one
# letter from Ortica, Lecco, Turro, Affori, Isola and far more likely what was said.
# Zipf 3.3 (about 2 in a million words) keeps the ASR slips seen on the demo zones,
# which are rare or proper names: "Breda" 3.0, "Isla" 3.2, "Brena" 1.9, "Isora",
# "Prera" absent; "Imola" (3.7) and the everyday words above are rejected.
SLIP_MAX_ZIPF = 3.3
_LEXICON = shared_lexicon("it")
_WANTED = {
    "cerco",
    "cerchiamo",
    "preferisco",
    "preferibilmente",
    "meglio",
    "piuttosto",
    "interessa",
}
_NOT_WANTED = {"non", "abito", "vivo", "abitiamo", "viviamo", "lavoro", "tranne", "escluso"}
_TRIGGER = re.compile(
    r"(?:\bzona|\bquartiere|\bvicino (?:a|al|alla|allo|ai|agli)|\bdalle parti di"
    r"|\b(?:in|di|a) via)"
    r"\s+((?:[a-z']+\s?){1,3})"
)


@dataclass(frozen=True)
class ZoneMatch:
    zone: str  # the tenant's spelling, or the caller's words title-cased when unlisted
    confidence: float
    listed: bool = True


class ZoneMatcher:
    """Finds the tenant's zones in caller text."""

    def __init__(self, zones: list[str], *, threshold: float = 84.0) -> None:
        self.zones = [z for z in zones if z and z.strip()]
        self.threshold = threshold
        self._folded = [(z, fold(z).split()) for z in self.zones]
        if self.zones:
            # Once per process (~0.2 s), at set-up rather than in the middle of a call.
            _LEXICON.load()

    def find(self, text: str, *, expecting: bool = False) -> ZoneMatch | None:
        """The zone the caller wants; ``expecting``: the zone was just asked, so a bare
        word is a place name."""
        folded = fold(text)
        tokens = re.findall(r"[a-z0-9]+", folded)
        # (preference, confidence, -position, match): "abito a Porta Romana ma cerco a
        # Isola" -> Isola; "non a Brera, preferisco Isola" -> Isola.
        found: list[tuple[int, float, int, ZoneMatch]] = []
        for zone, ztoks in self._folded:
            n = len(ztoks)
            target = " ".join(ztoks)
            for i in range(len(tokens) - n + 1):
                window = tokens[i : i + n]
                if window[0] in _STOP or window[-1] in _STOP:
                    continue
                cand = " ".join(window)
                conf: float | None = 0.97 if cand == target else self._fuzzy(cand, target)
                if conf is None and n == 1 and _one_letter_slip(cand, target):
                    # The zone question was just answered in a word or two, or a place
                    # word comes right before: "Breda.", "a Breda".
                    placed = (expecting and len(tokens) <= 3) or (
                        i > 0 and tokens[i - 1] in _PLACE_CUES
                    )
                    conf = _SLIP_CONFIDENCE if placed else None
                if conf is None:
                    continue
                before = set(tokens[max(0, i - 4) : i])
                preference = (1 if before & _WANTED else 0) - (2 if before & _NOT_WANTED else 0)
                found.append((preference, conf, -i, ZoneMatch(zone, conf)))
        best = max(found, key=lambda f: f[:3])[3] if found else None
        if best is not None:
            return best
        m = _TRIGGER.search(folded)
        if m:
            # Stop at the first word that clearly starts another clause.
            kept: list[str] = []
            for w in m.group(1).replace("'", " ").split():
                if w in _STOP or w in {"budget", "massimo", "possibilmente", "magari"}:
                    break
                kept.append(w)
            if kept:
                # A street is kept as such: "in via Padova" -> "Via Padova".
                prefix = "via " if re.match(r"(?:in|di|a) via", m.group(0)) else ""
                return ZoneMatch(title_name(prefix + " ".join(kept[:3])), 0.5, listed=False)
        return None

    def _fuzzy(self, cand: str, target: str) -> float | None:
        """Confidence of a near match by similarity alone, None below the threshold."""
        if len(cand) < 4 or cand[0] != target[0]:
            return None
        score = fuzz.ratio(cand, target)
        if len(target) <= 5:
            score -= 6  # short names: one wrong letter is a different word
        if score < self.threshold:
            return None
        return round(0.5 + 0.4 * (score - 80) / 20, 2)


# A one-letter slip is a guess the summary reads back to the caller: moderate trust.
_SLIP_CONFIDENCE = 0.6


def _one_letter_slip(cand: str, target: str) -> bool:
    """``cand`` is ``target`` with one letter wrong, added or missing ("breda", "isla",
    "prera" for "brera"/"isola"), and not a word or place name of its own."""
    if not 4 <= len(target) <= 7 or len(cand) < 4 or not cand.isalpha():
        return False
    if cand in _STOP or cand in KEYWORDS or cand in ANCHORS:
        return False
    if Levenshtein.distance(cand, target, score_cutoff=1) > 1:
        return False
    # The first sound is what a listener (and Whisper) gets right most often.
    if cand[0] != target[0] and frozenset((cand[0], target[0])) not in _FIRST_LETTER_SLIPS:
        return False
    return _zipf(cand) < SLIP_MAX_ZIPF


# The caller's text is folded ("citta"); written Italian accents the last vowel ("città").
_ACCENTED = {"a": "àá", "e": "èé", "i": "ìí", "o": "òó", "u": "ùú"}


def _zipf(folded: str) -> float:
    """How common ``folded`` is in written Italian, with or without a final accent."""
    forms = [folded] + [folded[:-1] + v for v in _ACCENTED.get(folded[-1], "")]
    return max(_LEXICON.zipf(form) for form in forms)
