"""Custom webhook "CRM": the mapped lead as signed JSON (see centralino.delivery.webhook)."""

from __future__ import annotations

from typing import Any, ClassVar

from centralino.delivery.crm.base import CrmConnector
from centralino.delivery.errors import SendResult
from centralino.delivery.payload import map_fields
from centralino.delivery.settings import LEAD_FIELDS, DeliverySettingsError
from centralino.delivery.webhook import post_signed


class WebhookConnector(CrmConnector):
    type = "webhook"
    label = "Webhook"
    # The receiver gets the Idempotency-Key header and is documented to dedupe on it.
    idempotent = True
    default_mapping: ClassVar[dict[str, str]] = {f: f for f in LEAD_FIELDS}
    options_known = ("url",)
    secrets = ("secret",)

    @classmethod
    def validate_options(cls, options: Any, where: str) -> None:
        super().validate_options(options, where)
        if not options.get("url"):
            raise DeliverySettingsError("indirizzo del webhook mancante", f"{where}.url")

    async def push(self, fields: dict[str, Any], idempotency_key: str) -> SendResult:
        payload = {
            "event": "lead.created",
            "idempotency_key": idempotency_key,
            "lead": map_fields(self.mapping, fields),
        }
        return await post_signed(
            self.http,
            str(self.options["url"]),
            self.secret("secret"),
            "lead.created",
            payload,
            idempotency_key,
            self.timeout_s,
        )
