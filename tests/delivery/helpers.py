"""Shared helpers for the delivery tests: tenants, calls, and call results."""

from __future__ import annotations

from typing import Any

from centralino.calls.service import CallStart, CallStore
from centralino.db.session import Database
from centralino.tenants.service import TenantService, parse_spec

_counter = iter(range(1, 10**6))


def make_tenant(db: Database, delivery: dict[str, Any] | None = None, **extra: Any) -> int:
    n = next(_counter)
    spec = parse_spec(
        {
            "slug": f"agenzia-{n}",
            "name": f"Agenzia Test {n}",
            "numbers": [f"+39021234{n:04d}"],
            "premium_zones": ["Brera", "Centro Storico"],
            "settings": {"delivery": delivery} if delivery is not None else {},
            **extra,
        }
    )
    return TenantService(db).upsert(spec)


def make_call(db: Database, tenant_id: int) -> str:
    return CallStore(db).start(
        CallStart(
            tenant_id=tenant_id, channel_id="chan", caller_id="+393331112222", did="+390212340001"
        )
    )


def call_result(**lead: Any) -> dict[str, Any]:
    base = {
        "name": "Mario Rossi",
        "phone": "333 111 2222",
        "request_type": "buy",
        "property_type": "trilocale",
        "zone": "Brera",
        "budget_min": 400_000,
        "budget_max": 550_000,
        "urgency": "high",
        "callback_time": "domani mattina",
        "notes": "Vuole il terrazzo",
        "confidence": {"name": 0.9, "budget_max": 0.8},
    }
    base.update(lead)
    return {
        "outcome": "lead",
        "lead": base,
        "transcript": [
            {"speaker": "agent", "text": "Buongiorno, come posso aiutarla?"},
            {"speaker": "caller", "text": "Cerco un trilocale a Brera, è urgente."},
        ],
    }
