"""One call to read everything a caller said in a turn, without any LLM.

>>> ex = Extractor(zones=["Navigli", "Brera"])
>>> r = ex.extract("Sono Mario Rossi, cerco un trilocale ai Navigli sui 400 mila")
>>> r.fields["name"], r.fields["zone"], r.fields["budget_max"]
('Mario Rossi', 'Navigli', 400000)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agent.extraction import fields as f
from agent.extraction.budget import extract_budget
from agent.extraction.intents import Intent, detect
from agent.extraction.names import extract_name
from agent.extraction.spell import correct
from agent.extraction.text import fold, original_span
from agent.extraction.zones import ZoneMatcher

# Lead fields the extractor can fill (LeadDraft attribute names).
LEAD_FIELDS = (
    "name",
    "phone",
    "request_type",
    "property_type",
    "zone",
    "budget_min",
    "budget_max",
    "urgency",
    "callback_time",
)
# Besides the lead fields: ``timing``, the caller's words for when ("entro l'estate")
# behind ``urgency``.
REQUEST_TYPES = ("buy", "sell", "rent", "rent_out", "valuation")
URGENCIES = ("high", "medium", "low")


@dataclass
class Extraction:
    """What one utterance said: lead fields with confidence, plus conversational intents."""

    fields: dict[str, Any] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    intents: set[Intent] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def set(self, key: str, value: Any, conf: float) -> None:
        self.fields[key] = value
        self.confidence[key] = round(min(1.0, max(0.0, conf)), 2)

    def as_json(self) -> dict[str, Any]:
        """The shape an LLM is asked to produce (see :data:`EXTRACTION_SCHEMA`)."""
        return {k: self.fields.get(k) for k in LEAD_FIELDS}


# JSON schema for LLM extraction (Ollama ``format=``, llama.cpp grammar).
EXTRACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": ["string", "null"]},
        "phone": {"type": ["string", "null"]},
        "request_type": {"type": ["string", "null"], "enum": [*REQUEST_TYPES, None]},
        "property_type": {"type": ["string", "null"]},
        "zone": {"type": ["string", "null"]},
        "budget_min": {"type": ["integer", "null"]},
        "budget_max": {"type": ["integer", "null"]},
        "urgency": {"type": ["string", "null"], "enum": [*URGENCIES, None]},
        "callback_time": {"type": ["string", "null"]},
    },
    "required": list(LEAD_FIELDS),
}


def _without_name(text: str, name: str) -> str:
    parts = name.split()
    for candidate in (name, " ".join(reversed(parts))):
        pattern = r"\s+".join(re.escape(p) for p in candidate.split())
        cleaned, count = re.subn(pattern, " ", text, count=1, flags=re.IGNORECASE)
        if count:
            return cleaned
    return text


class Extractor:
    """Rules-based extraction for one tenant (its zones)."""

    def __init__(self, zones: list[str] | None = None) -> None:
        self.zones = ZoneMatcher(list(zones or []))

    def extract(
        self,
        text: str,
        *,
        expecting: str | None = None,
        request_type: str = "",
        confidence: float | None = None,
    ) -> Extraction:
        """Read ``text``. ``expecting`` is the question key the agent just asked
        (it makes bare answers like "Mario Rossi" or "sui 400" acceptable);
        ``confidence`` is the STT confidence, which scales every field's."""
        out = Extraction()
        if not fold(text or ""):
            return out
        original = text
        # Typos and STT slips in keywords ("vendre", "doomani") are fixed first; zones
        # are read from the original words (they have their own fuzzy matching).
        text = correct(text)
        folded = fold(text)
        out.intents = detect(folded)

        # Capitalised words survive correction, so names are read from the corrected
        # text ("mi chamo Mario Rossi"), falling back to the caller's exact words.
        name = extract_name(text, expecting=expecting == "name") or extract_name(
            original, expecting=expecting == "name"
        )
        if name:
            out.set("name", *name)
            # "Serena Villa" is a person, not a property type: read the rest without it.
            text = _without_name(text, name[0])
            folded = fold(text)
        req = f.request_type(folded, expecting=expecting == "request_type")
        if req:
            out.set("request_type", *req)
        prop = f.property_type(folded)
        if prop:
            out.set("property_type", *prop)
        zone = self.zones.find(
            _without_name(original, name[0]) if name else original, expecting=expecting == "zone"
        )
        if zone:
            out.set("zone", zone.zone, zone.confidence)
            if not zone.listed:
                out.notes.append(f"Zona richiesta non in elenco: {zone.zone}")
        rent = (req[0] if req else request_type) in ("rent", "rent_out")
        budget = extract_budget(text, expecting=expecting == "budget", rent=rent)
        if budget:
            if budget.min is not None:
                out.set("budget_min", budget.min, budget.confidence)
            if budget.max is not None:
                out.set("budget_max", budget.max, budget.confidence)
        # "La settimana prossima" answers the call-back question, not the urgency one.
        when_needed = f.timing(
            folded, expecting=expecting == "urgency", horizons=expecting != "callback_time"
        )
        if when_needed:
            out.set("urgency", when_needed.urgency, when_needed.confidence)
            # The caller's own words ("entro l'estate"): read back and shown to the agency.
            said = original_span(text, when_needed.start, when_needed.end)
            out.set("timing", said[:1].lower() + said[1:], when_needed.confidence)
        when = f.callback_time(folded, expecting=expecting == "callback_time")
        # A day or time only means "call me then" when asked, or with a call verb.
        if when and (
            expecting == "callback_time"
            or any(
                w in folded
                for w in ("richiam", "chiamat", "contatt", "sentirci", "telefon", "reperibile")
            )
        ):
            out.set("callback_time", *when)
        phone = f.phone_number(text, expecting=expecting == "phone")
        if phone:
            out.set("phone", *phone)
        if confidence is not None and 0.0 <= confidence < 1.0:
            for key in out.confidence:
                out.confidence[key] = round(out.confidence[key] * (0.5 + 0.5 * confidence), 2)
        return out
