"""Pipedrive: API token, create a person, a lead linked to it, and a note with the summary.

``POST {base}/persons?api_token=``
``{"name", "phone": [{"value", "primary", "label"}], "email": [...]}``
-> ``{"success": true, "data": {"id": 1}}``; ``POST {base}/leads`` ``{"title", "person_id",
"value": {"amount", "currency"}}`` -> 201 ``{"success": true, "data": {"id": "<uuid>"}}``;
``POST {base}/notes`` ``{"content", "lead_id"}``. Errors: ``{"success": false, "error",
"error_info"}``. Pipedrive has no idempotency key for leads, so a resend after a
crash creates a second lead: this connector is *not* idempotent (counted in tests).

Mapping keys are ``person.<field>``, ``lead.<field>`` (custom field hashes allowed)
and ``note.content``; ``lead.value`` takes a number of euros.
"""

from __future__ import annotations

from typing import Any, ClassVar

from centralino.delivery.crm.base import CrmConnector
from centralino.delivery.errors import SendError, SendResult
from centralino.delivery.http import call_json
from centralino.delivery.payload import map_fields


def _pd_error(body: Any) -> str | None:
    if isinstance(body, dict) and body.get("error"):
        info = body.get("error_info")
        return f"{body['error']}" + (f" ({info})" if info else "")
    return None


class PipedriveConnector(CrmConnector):
    type = "pipedrive"
    label = "Pipedrive"
    idempotent = False
    default_mapping: ClassVar[dict[str, str]] = {
        "person.name": "name",
        "person.phone": "phone",
        "person.email": "email",
        "lead.title": "title",
        "lead.value": "budget",
        "note.content": "summary",
    }
    options_known = ("base_url", "currency")
    secrets = ("api_token",)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        base = self.option("base_url", "https://api.pipedrive.com/v1").rstrip("/")
        _, data = await call_json(
            self.http,
            "POST",
            base + path,
            provider="Pipedrive",
            error_message=_pd_error,
            params={"api_token": self.secret("api_token")},
            json_body=body,
            timeout_s=self.timeout_s,
        )
        if (
            not isinstance(data, dict)
            or not data.get("success")
            or not isinstance(data.get("data"), dict)
        ):
            raise SendError(f"Pipedrive: risposta inattesa {str(data)[:300]}", retryable=True)
        return data["data"]

    async def push(self, fields: dict[str, Any], idempotency_key: str) -> SendResult:
        mapped = map_fields(self.mapping, fields)
        parts: dict[str, dict[str, Any]] = {"person": {}, "lead": {}, "note": {}}
        for key, value in mapped.items():
            obj, _, name = key.partition(".")
            if obj in parts and name:
                parts[obj][name] = value
        person = parts["person"]
        person.setdefault("name", fields.get("name") or fields.get("phone") or "Sconosciuto")
        for multi in ("phone", "email"):
            if multi in person:
                person[multi] = [{"value": str(person[multi]), "primary": True, "label": "work"}]
        person_id = (await self._post("/persons", person))["id"]
        lead = parts["lead"]
        lead.setdefault("title", fields.get("title") or "Lead Centralino")
        lead["person_id"] = person_id
        if "value" in lead:
            lead["value"] = {"amount": lead["value"], "currency": self.option("currency", "EUR")}
        lead_id = str((await self._post("/leads", lead))["id"])
        if parts["note"].get("content"):
            await self._post("/notes", {"content": parts["note"]["content"], "lead_id": lead_id})
        return SendResult(external_id=lead_id)
