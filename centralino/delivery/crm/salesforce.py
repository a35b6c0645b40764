"""Salesforce: OAuth2 (client credentials or refresh token), Lead upsert via the REST sObject API.

Token: ``POST {login_url}/services/oauth2/token`` (form: grant_type,
client_id, client_secret[, refresh_token]) -> ``{"access_token", "instance_url", ...}``.
Lead: ``PATCH {instance_url}/services/data/{version}/sobjects/Lead/{external_id_field}/{key}``
(upsert by our idempotency key: a resend updates the same record; 201 created,
200/204 updated). With ``external_id_field = ""`` it falls back to
``POST .../sobjects/Lead/`` (create; not idempotent).
Errors are lists of ``{"message", "errorCode", "fields"}``; OAuth errors are
``{"error", "error_description"}``.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from centralino.delivery.crm.base import CrmConnector
from centralino.delivery.errors import SendError, SendResult
from centralino.delivery.http import call_json
from centralino.delivery.payload import map_fields
from centralino.delivery.settings import DeliverySettingsError


def _sf_error(body: Any) -> str | None:
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return "; ".join(f"{e.get('errorCode', '')}: {e.get('message', '')}" for e in body)
    if isinstance(body, dict) and "error" in body:
        return f"{body.get('error')}: {body.get('error_description', '')}"
    return None


class SalesforceConnector(CrmConnector):
    type = "salesforce"
    label = "Salesforce"
    idempotent = True
    default_mapping: ClassVar[dict[str, str]] = {
        "FirstName": "first_name",
        "LastName": "last_name",
        # Company is required on Lead; a private buyer has none.
        "Company": "=Privato",
        "Phone": "phone",
        "Email": "email",
        "LeadSource": "=Centralino",
        "Description": "summary",
    }
    options_known = ("login_url", "api_version", "grant", "external_id_field")
    secrets = ("client_id", "client_secret", "refresh_token")

    @classmethod
    def validate_options(cls, options: Any, where: str) -> None:
        super().validate_options(options, where)
        grant = options.get("grant", "client_credentials")
        if grant not in ("client_credentials", "refresh_token"):
            raise DeliverySettingsError(
                "deve essere client_credentials o refresh_token", f"{where}.grant"
            )

    @property
    def login_url(self) -> str:
        return self.option("login_url", "https://login.salesforce.com").rstrip("/")

    async def _token(self, refresh: bool = False) -> tuple[str, str]:
        key = f"salesforce:{self.login_url}:{self.secret('client_id')}"
        if not refresh and key in self.cache:
            token, instance = self.cache[key]
            return str(token), str(instance)
        grant = self.option("grant", "client_credentials")
        form = {
            "grant_type": grant,
            "client_id": self.secret("client_id"),
            "client_secret": self.secret("client_secret"),
        }
        if grant == "refresh_token":
            form["refresh_token"] = self.secret("refresh_token")
        _, body = await call_json(
            self.http,
            "POST",
            f"{self.login_url}/services/oauth2/token",
            provider="Salesforce OAuth",
            error_message=_sf_error,
            form=form,
            timeout_s=self.timeout_s,
        )
        if (
            not isinstance(body, dict)
            or not body.get("access_token")
            or not body.get("instance_url")
        ):
            raise SendError(
                f"Salesforce OAuth: risposta inattesa {str(body)[:300]}", retryable=True
            )
        self.cache[key] = (body["access_token"], body["instance_url"])
        return str(body["access_token"]), str(body["instance_url"])

    async def push(self, fields: dict[str, Any], idempotency_key: str) -> SendResult:
        record = map_fields(self.mapping, fields)
        version = self.option("api_version", "v60.0")
        ext_field = self.options.get("external_id_field", "Centralino_Lead_Id__c")
        for attempt in (0, 1):
            token, instance = await self._token(refresh=attempt == 1)
            base = f"{instance.rstrip('/')}/services/data/{version}/sobjects/Lead"
            if ext_field:
                method, url = "PATCH", f"{base}/{ext_field}/{quote(idempotency_key, safe='')}"
            else:
                method, url = "POST", f"{base}/"
            try:
                _, body = await call_json(
                    self.http,
                    method,
                    url,
                    provider="Salesforce",
                    error_message=_sf_error,
                    headers={"Authorization": f"Bearer {token}"},
                    json_body=record,
                    timeout_s=self.timeout_s,
                )
            except SendError as exc:
                # Expired session: one fresh token; a second 401 is a real credential problem.
                if exc.status == 401 and attempt == 0:
                    continue
                if exc.status == 403 and "REQUEST_LIMIT_EXCEEDED" in exc.message:
                    # The org's daily API limit: it frees up over time, so wait and retry.
                    exc.retryable = True
                    exc.retry_after = exc.retry_after or 3600.0
                raise
            record_id = body.get("id", "") if isinstance(body, dict) else ""
            return SendResult(external_id=str(record_id))
        raise SendError("Salesforce: sessione non valida", retryable=False, status=401)
