"""Zones from the tenant's list, tolerant of accents, typos and STT errors.

"ai navigli", "zona Citta Studi", "vicino a Porta Romana", "Navili" (Whisper),
"lambrati" (typo) all map to the tenant's spelling. A zone the agency does not
list is still reported when the caller names it explicitly ("zona Bovisa"),
flagged as outside the list, so the lead keeps what the caller said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from agent.extraction.text import fold, title_name

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

    def find(self, text: str) -> ZoneMatch | None:
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
                if cand == target:
                    score = 100.0
                else:
                    if len(cand) < 4 or cand[0] != target[0]:
                        continue
                    score = fuzz.ratio(cand, target)
                    if len(target) <= 5:
                        score -= 6  # short names: one wrong letter is a different word
                if score < self.threshold:
                    continue
                conf = 0.97 if score == 100.0 else round(0.5 + 0.4 * (score - 80) / 20, 2)
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
