"""Display names of stored codes (outcomes, lead fields...), translated per request."""

from __future__ import annotations

from typing import Any

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l

OUTCOMES = {
    "in_progress": _l("in progress"),
    "completed": _l("completed"),
    "lead": _l("lead"),
    "unknown_did": _l("unknown number"),
    "abandoned": _l("abandoned"),
    "transferred": _l("transferred"),
    "voicemail": _l("voicemail"),
    "failed": _l("failed"),
}
STATES = {
    "ringing": _l("ringing"),
    "greeting": _l("greeting"),
    "listening": _l("listening"),
    "thinking": _l("thinking"),
    "speaking": _l("speaking"),
    "transferring": _l("transferring"),
    "ended": _l("ended"),
}
REQUEST_TYPES = {
    "buy": _l("buy"),
    "sell": _l("sell"),
    "rent": _l("rent"),
    "valuation": _l("valuation"),
}
URGENCY = {"high": _l("high"), "medium": _l("medium"), "low": _l("low")}
QUALITY = {"high": _l("high"), "medium": _l("medium"), "low": _l("low")}
DELIVERY_STATUSES = {
    "pending": _l("waiting"),
    "sending": _l("sending"),
    "delivered": _l("delivered"),
    "dead": _l("failed, needs attention"),
}
LEAD_FIELDS = {
    "name": _l("Name"),
    "phone": _l("Phone"),
    "request_type": _l("Request"),
    "property_type": _l("Property"),
    "zone": _l("Zone"),
    "budget_min": _l("Budget from"),
    "budget_max": _l("Budget up to"),
    "urgency": _l("Urgency"),
    "timing": _l("Timing"),  # the caller's words behind the urgency ("entro l'estate")
    "callback_time": _l("Callback time"),
    "notes": _l("Notes"),
}


def label(table: dict[str, Any], code: str | None) -> str:
    """The translated name of ``code``, or the code itself when unknown."""
    if not code:
        return ""
    return str(table.get(code, code))


def number(value: float | None, digits: int = 1) -> str:
    """A number in the page's language (Italian: 33,3)."""
    if value is None:
        return "–"
    return str(format_decimal(value, format="#,##0." + "0" * digits if digits else "#,##0"))


def template_globals() -> dict[str, Any]:
    return {
        "OUTCOMES": OUTCOMES,
        "STATES": STATES,
        "REQUEST_TYPES": REQUEST_TYPES,
        "URGENCY": URGENCY,
        "QUALITY": QUALITY,
        "LEAD_FIELDS": LEAD_FIELDS,
        "DELIVERY_STATUSES": DELIVERY_STATUSES,
        "label": label,
        "number": number,
    }
