"""HubSpot: private-app token, CRM v3 contacts (search, then create/update), optional deal.

``POST {base}/crm/v3/objects/contacts/search`` -> ``{"total", "results": [{"id"}]}``;
``POST {base}/crm/v3/objects/contacts`` ``{"properties"}`` -> 201 ``{"id", ...}``;
``PATCH {base}/crm/v3/objects/contacts/{id}`` -> 200. Deal (``create_deal = true``):
searched by its name (which carries our lead id) and created with an association to
the contact (HUBSPOT_DEFINED type 3, deal -> contact). Errors are
``{"status": "error", "message", "category", "correlationId"}``.
Search-then-write makes a resend update the same contact and deal (idempotent).
"""

from __future__ import annotations

from typing import Any, ClassVar

from centralino.delivery.crm.base import CrmConnector
from centralino.delivery.errors import SendResult
from centralino.delivery.http import call_json
from centralino.delivery.payload import map_fields


def _hs_error(body: Any) -> str | None:
    if isinstance(body, dict) and body.get("message"):
        cat = body.get("category") or body.get("errorType") or ""
        return f"{cat}: {body['message']}" if cat else str(body["message"])
    return None


class HubSpotConnector(CrmConnector):
    type = "hubspot"
    label = "HubSpot"
    idempotent = True
    default_mapping: ClassVar[dict[str, str]] = {
        "firstname": "first_name",
        "lastname": "last_name",
        "phone": "phone",
        "email": "email",
        "city": "zone",
        "hs_lead_status": "=NEW",
    }
    options_known = ("base_url", "create_deal", "pipeline", "dealstage")
    secrets = ("token",)

    async def _call(self, method: str, path: str, body: Any) -> Any:
        base = self.option("base_url", "https://api.hubapi.com").rstrip("/")
        _, data = await call_json(
            self.http,
            method,
            base + path,
            provider="HubSpot",
            error_message=_hs_error,
            headers={"Authorization": f"Bearer {self.secret('token')}"},
            json_body=body,
            timeout_s=self.timeout_s,
        )
        return data

    async def _search(self, obj: str, filters: list[tuple[str, str]]) -> str | None:
        if not filters:
            return None
        body = {
            # Separate filter groups are ORed: same phone OR same email.
            "filterGroups": [
                {"filters": [{"propertyName": p, "operator": "EQ", "value": v}]} for p, v in filters
            ],
            "properties": [p for p, _ in filters],
            "limit": 1,
        }
        data = await self._call("POST", f"/crm/v3/objects/{obj}/search", body)
        results = (data or {}).get("results") or []
        return str(results[0]["id"]) if results else None

    async def push(self, fields: dict[str, Any], idempotency_key: str) -> SendResult:
        props = map_fields(self.mapping, fields)
        keys = [(k, str(props[k])) for k in ("phone", "email") if props.get(k)]
        contact_id = await self._search("contacts", keys)
        if contact_id is None:
            data = await self._call("POST", "/crm/v3/objects/contacts", {"properties": props})
            contact_id = str(data["id"])
        else:
            await self._call(
                "PATCH", f"/crm/v3/objects/contacts/{contact_id}", {"properties": props}
            )
        if self.options.get("create_deal"):
            name = f"{fields.get('title') or 'Lead'} (Centralino #{fields.get('lead_id')})"
            if await self._search("deals", [("dealname", name)]) is None:
                deal: dict[str, Any] = {
                    "dealname": name,
                    "pipeline": self.option("pipeline", "default"),
                    "dealstage": self.option("dealstage", "appointmentscheduled"),
                }
                if fields.get("budget") is not None:
                    deal["amount"] = str(fields["budget"])
                await self._call(
                    "POST",
                    "/crm/v3/objects/deals",
                    {
                        "properties": deal,
                        "associations": [
                            {
                                "to": {"id": contact_id},
                                "types": [
                                    {
                                        "associationCategory": "HUBSPOT_DEFINED",
                                        "associationTypeId": 3,
                                    }
                                ],
                            }
                        ],
                    },
                )
        return SendResult(external_id=contact_id)
