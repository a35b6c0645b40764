"""WhatsApp Cloud API notifications (template messages).

``POST {base_url}/{api_version}/{phone_number_id}/messages`` with
``Authorization: Bearer <access token>`` and::

    {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "39333...",
     "type": "template",
     "template": {"name": "nuovo_lead", "language": {"code": "it"},
                  "components": [{"type": "body",
                                  "parameters": [{"type": "text", "text": ...}, ...]}]}}

Success: ``{"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}],
"messages": [{"id": "wamid..."}]}``. Errors: ``{"error": {"message", "type", "code",
"error_data": {"messaging_product", "details"}, "fbtrace_id"}}``.
The Cloud API has no idempotency key: a resend after a crash is a second message.

The template (to be approved in WhatsApp Manager, Italian) has 7 body parameters:
name, phone, request, zone, budget, urgency and callback time, link to the call.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from centralino.delivery.errors import MissingSecret, SendResult
from centralino.delivery.http import call_json
from centralino.delivery.payload import budget_text
from centralino.delivery.settings import WhatsAppSettings


def _wa_error(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        details = (err.get("error_data") or {}).get("details")
        text = str(err.get("message", ""))
        if err.get("code") is not None and f"#{err['code']}" not in text:
            text = f"(#{err['code']}) {text}"
        return f"{text} – {details}" if details else text
    return None


def _param(text: Any) -> dict[str, str]:
    # Template parameters may not be empty nor contain newlines/tabs or 4+ spaces.
    clean = re.sub(r"\s+", " ", str(text if text not in (None, "") else "-")).strip() or "-"
    return {"type": "text", "text": clean[:1000]}


def template_parameters(lead: dict[str, Any]) -> list[dict[str, str]]:
    request = " ".join(x for x in (lead.get("request_type_it"), lead.get("property_type")) if x)
    when = ", ".join(
        x
        for x in (
            f"urgenza {lead['urgency_it']}" if lead.get("urgency_it") else "",
            f"richiamare {lead['callback_time']}" if lead.get("callback_time") else "",
        )
        if x
    )
    return [
        _param(lead.get("name")),
        _param(lead.get("phone")),
        _param(request),
        _param(lead.get("zone")),
        _param(budget_text(lead.get("budget_min"), lead.get("budget_max"))),
        _param(when),
        _param(lead.get("call_link")),
    ]


class WhatsAppSender:
    def __init__(
        self, settings: WhatsAppSettings, http: aiohttp.ClientSession, timeout_s: float = 20.0
    ):
        self.settings = settings
        self.http = http
        self.timeout_s = timeout_s

    def message(self, recipient: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient.lstrip("+"),
            "type": "template",
            "template": {
                "name": payload.get("template") or self.settings.template,
                "language": {"code": payload.get("language") or self.settings.language},
                "components": [
                    {"type": "body", "parameters": template_parameters(payload.get("lead", {}))}
                ],
            },
        }

    async def send(self, recipient: str, payload: dict[str, Any]) -> SendResult:
        s = self.settings
        if not s.phone_number_id:
            raise MissingSecret(
                "WhatsApp: manca whatsapp.phone_number_id "
                "(variabile d'ambiente CENTRALINO_WHATSAPP__PHONE_NUMBER_ID)"
            )
        if not s.access_token:
            raise MissingSecret(
                "WhatsApp: manca il segreto whatsapp.access_token "
                "(variabile d'ambiente CENTRALINO_WHATSAPP__ACCESS_TOKEN)"
            )
        url = f"{s.base_url.rstrip('/')}/{s.api_version}/{s.phone_number_id}/messages"
        _, body = await call_json(
            self.http,
            "POST",
            url,
            provider="WhatsApp",
            error_message=_wa_error,
            headers={"Authorization": f"Bearer {s.access_token}"},
            json_body=self.message(recipient, payload),
            timeout_s=self.timeout_s,
        )
        messages = (body or {}).get("messages") or [{}]
        return SendResult(external_id=str(messages[0].get("id", "")))
