"""The lead as delivery targets see it: a flat dict of fields and an Italian summary."""

from __future__ import annotations

from typing import Any

from centralino.leads.models import Lead

REQUEST_TYPES_IT = {
    "buy": "acquisto",
    "sell": "vendita",
    "rent": "affitto",
    "rent_out": "affitto (proprietario)",
    "valuation": "valutazione",
}
URGENCY_IT = {"high": "alta", "medium": "media", "low": "bassa"}


def euro(amount: int | None) -> str:
    if amount is None:
        return ""
    return f"{amount:,}".replace(",", ".") + " €"


def budget_text(budget_min: int | None, budget_max: int | None) -> str:
    if budget_min is None and budget_max is None:
        return "non indicato"
    if budget_min is None or budget_min == budget_max:
        return euro(budget_max if budget_max is not None else budget_min)
    if budget_max is None:
        return f"da {euro(budget_min)}"
    return f"{euro(budget_min)} – {euro(budget_max)}"


def call_link(admin_base_url: str, call_id: str | None) -> str:
    if not call_id:
        return ""
    return f"{admin_base_url.rstrip('/')}/calls/{call_id}"


def lead_fields(lead: Lead, admin_base_url: str, email: str = "") -> dict[str, Any]:
    """Every field a template or CRM mapping may use (``settings.LEAD_FIELDS``)."""
    name = (lead.name or "").strip()
    first, _, last = name.partition(" ")
    request_it = REQUEST_TYPES_IT.get(lead.request_type, lead.request_type)
    urgency_it = URGENCY_IT.get(lead.urgency, lead.urgency)
    fields: dict[str, Any] = {
        "lead_id": lead.id,
        "call_id": lead.call_id or "",
        "name": name,
        "first_name": first if last else "",
        # CRMs require a last name; a single word goes there.
        "last_name": last or first or "Sconosciuto",
        "phone": lead.phone,
        "email": email,
        "request_type": lead.request_type,
        "request_type_it": request_it,
        "property_type": lead.property_type,
        "zone": lead.zone,
        "budget_min": lead.budget_min,
        "budget_max": lead.budget_max,
        "budget": lead.budget_max if lead.budget_max is not None else lead.budget_min,
        "urgency": lead.urgency,
        "urgency_it": urgency_it,
        "callback_time": lead.callback_time,
        "notes": lead.notes,
        "score": lead.score,
        "score_reasons": "; ".join(str(r.get("text", "")) for r in lead.score_reasons or []),
        "call_link": call_link(admin_base_url, lead.call_id),
        "created_at": lead.created_at.isoformat() if lead.created_at else "",
    }
    fields["summary"] = summary_text(fields)
    what = " ".join(x for x in (request_it, lead.property_type, lead.zone) if x)
    fields["title"] = f"{name or lead.phone or 'Nuovo contatto'}" + (f" – {what}" if what else "")
    return fields


def summary_text(f: dict[str, Any]) -> str:
    """Plain-text Italian summary (email body, CRM notes)."""
    lines = [
        f"Nome: {f['name'] or 'non indicato'}",
        f"Telefono: {f['phone'] or 'non indicato'}",
        f"Richiesta: {f['request_type_it'] or 'non indicata'}",
        f"Tipo di immobile: {f['property_type'] or 'non indicato'}",
        f"Zona: {f['zone'] or 'non indicata'}",
        f"Budget: {budget_text(f['budget_min'], f['budget_max'])}",
        f"Urgenza: {f['urgency_it'] or 'non indicata'}",
        f"Quando richiamare: {f['callback_time'] or 'non indicato'}",
        f"Punteggio: {f['score'] if f['score'] is not None else '-'} / 100"
        + (f" ({f['score_reasons']})" if f["score_reasons"] else ""),
    ]
    if f.get("notes"):
        lines.append(f"Note: {f['notes']}")
    if f.get("call_link"):
        lines.append(f"Chiamata: {f['call_link']}")
    return "\n".join(lines)


def map_fields(mapping: dict[str, str], fields: dict[str, Any]) -> dict[str, Any]:
    """Apply a CRM field mapping (CRM field -> our field or "=literal"); empty values dropped."""
    out: dict[str, Any] = {}
    for crm_field, ours in mapping.items():
        value = ours[1:] if ours.startswith("=") else fields.get(ours)
        if value is None or value == "":
            continue
        out[crm_field] = value
    return out
