"""Default receptionist content for a new agency (Italian)."""

from __future__ import annotations

from typing import Any

DEFAULT_GREETING = (
    "Buongiorno, ha chiamato {agency}. Sono l'assistente virtuale dell'agenzia. "
    "Come posso aiutarla?"
)

DEFAULT_PROMPT_TEMPLATE = (
    "Sei la centralinista virtuale dell'agenzia immobiliare {{ agency }}. "
    "Rispondi in italiano, con frasi brevi e cortesi. Raccogli i dati del cliente: "
    "{{ questions }}. Zone servite: {{ zones }}. Non inventare prezzi o disponibilità."
)

DEFAULT_QUESTIONS: list[dict[str, Any]] = [
    {"key": "name", "text": "Posso sapere il suo nome e cognome?", "required": True},
    {
        "key": "request_type",
        "text": "Desidera acquistare, vendere, affittare o una valutazione?",
        "required": True,
    },
    {"key": "property_type", "text": "Che tipo di immobile le interessa?", "required": False},
    {"key": "zone", "text": "In quale zona?", "required": True},
    {"key": "budget", "text": "Qual è il suo budget indicativo?", "required": False},
    {"key": "urgency", "text": "Entro quando le servirebbe?", "required": False},
    {
        "key": "callback_time",
        "text": "In che orario preferisce essere richiamato?",
        "required": False,
    },
]

DEFAULT_BUSINESS_HOURS: dict[str, list[list[str]]] = {
    day: [["09:00", "13:00"], ["14:30", "19:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
} | {"sat": [["09:30", "12:30"]], "sun": []}
