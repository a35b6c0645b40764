"""Delivery settings: process-wide config sections and the per-tenant schema.

Process-wide (TOML / environment, see :mod:`centralino.config`):
``[delivery]``, ``[whatsapp]``, ``[smtp]``.

Per tenant: ``Tenant.settings["delivery"]``, validated by
:func:`parse_tenant_delivery`. The admin calls the same function before saving;
a :class:`DeliverySettingsError` names the offending field (``field``) and has an
Italian message for the agency user.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from centralino.config import secret

NOTIFY_CHANNELS = ("whatsapp", "email", "webhook")
CRM_TYPES = ("salesforce", "hubspot", "pipedrive", "webhook")

# Lead fields a CRM mapping may read (see centralino.delivery.payload.lead_fields).
LEAD_FIELDS = (
    "lead_id",
    "call_id",
    "name",
    "first_name",
    "last_name",
    "phone",
    "email",
    "request_type",
    "request_type_it",
    "property_type",
    "zone",
    "budget_min",
    "budget_max",
    "budget",
    "urgency",
    "urgency_it",
    "callback_time",
    "notes",
    "score",
    "score_reasons",
    "call_link",
    "summary",
    "title",
    "created_at",
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class DeliverySettings:
    """``[delivery]``: the dispatcher and the outbox."""

    # Link in notifications: {admin_base_url}/calls/{call_id}.
    admin_base_url: str = "http://localhost:8080"
    max_attempts: int = 8
    backoff_base_s: float = 30.0
    backoff_max_s: float = 3600.0
    # Longest Retry-After we accept from a provider (a day).
    retry_after_max_s: float = 86400.0
    # A claimed row is owned for this long; a crashed dispatcher's rows come back after it.
    # Must exceed the longest send (HTTP timeouts below), so a live sender never loses its row.
    lease_s: float = 120.0
    batch_size: int = 20
    concurrency: int = 8
    poll_interval_s: float = 2.0
    http_timeout_s: float = 20.0


@dataclass(frozen=True)
class WhatsAppSettings:
    """``[whatsapp]``: WhatsApp Cloud API account of the installation."""

    base_url: str = "https://graph.facebook.com"
    api_version: str = "v21.0"
    phone_number_id: str = ""
    access_token: str = secret()
    # An approved template with 6 body parameters (see docs/delivery.md).
    template: str = "nuovo_lead"
    language: str = "it"

    @property
    def configured(self) -> bool:
        return bool(self.phone_number_id and self.access_token)


@dataclass(frozen=True)
class SmtpSettings:
    """``[smtp]``: outgoing mail (STARTTLS)."""

    host: str = ""
    port: int = 587
    username: str = ""
    password: str = secret()
    sender: str = ""
    starttls: bool = True
    # Extra CA bundle to trust (a private relay's certificate; the tests' local CA).
    ca_file: Path | None = None
    timeout_s: float = 20.0

    @property
    def configured(self) -> bool:
        return bool(self.host and self.sender)


class DeliverySettingsError(ValueError):
    """Invalid ``settings.delivery``; ``field`` is the dotted path of the culprit."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # spans midnight

    def next_end(self, now: datetime, tz: str) -> datetime | None:
        """When the quiet period containing ``now`` ends (UTC), or None if not quiet."""
        zone = ZoneInfo(tz)
        local = now.astimezone(zone)
        if not self.contains(local.time()):
            return None
        end = datetime.combine(local.date(), self.end, tzinfo=zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=zone)
        return end.astimezone(now.tzinfo)


@dataclass(frozen=True)
class WhatsAppTarget:
    recipients: tuple[str, ...] = ()
    template: str = ""  # empty: the installation default
    language: str = ""


@dataclass(frozen=True)
class EmailTarget:
    recipients: tuple[str, ...] = ()
    # Also send the email when WhatsApp works (normally it is only the fallback).
    always: bool = False


@dataclass(frozen=True)
class WebhookTarget:
    url: str = ""
    secret: str = ""
    secret_env: str = ""


@dataclass(frozen=True)
class CrmTarget:
    type: str
    # CRM field -> our lead field (LEAD_FIELDS) or a literal "=text".
    mapping: dict[str, str] = field(default_factory=dict)
    # Connector options (login_url, base_url, create_deal, ...) and secrets
    # (a value, or "<name>_env": an environment variable holding it).
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TenantDelivery:
    channels: tuple[str, ...] = ()
    whatsapp: WhatsAppTarget = WhatsAppTarget()
    email: EmailTarget = EmailTarget()
    webhook: WebhookTarget = WebhookTarget()
    quiet_hours: QuietHours | None = None
    crm: tuple[CrmTarget, ...] = ()
    max_attempts: int | None = None


def _list_of_str(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DeliverySettingsError("deve essere una lista di testi", where)
    return [v.strip() for v in value if v.strip()]


def _table(value: Any, where: str, known: set[str]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise DeliverySettingsError("deve essere una tabella", where)
    unknown = sorted(set(value) - known)
    if unknown:
        raise DeliverySettingsError("impostazione sconosciuta", f"{where}.{unknown[0]}")
    return value


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value.strip()):
        raise DeliverySettingsError("deve essere un indirizzo http(s)://", where)
    return value.strip()


def parse_tenant_delivery(data: Any) -> TenantDelivery:
    """Validate ``Tenant.settings["delivery"]`` (None: no channels, nothing is sent)."""
    from centralino.tenants.phone import InvalidPhoneNumber, normalize_e164

    root = "delivery"
    d = _table(
        data,
        root,
        {"channels", "whatsapp", "email", "webhook", "quiet_hours", "crm", "max_attempts"},
    )
    channels = tuple(_list_of_str(d.get("channels", []), f"{root}.channels"))
    for i, ch in enumerate(channels):
        if ch not in NOTIFY_CHANNELS:
            raise DeliverySettingsError(
                f"canale {ch!r} non valido (ammessi: {', '.join(NOTIFY_CHANNELS)})",
                f"{root}.channels[{i}]",
            )
    if len(set(channels)) != len(channels):
        raise DeliverySettingsError("canale ripetuto", f"{root}.channels")

    w = _table(d.get("whatsapp"), f"{root}.whatsapp", {"recipients", "template", "language"})
    wa_recipients = []
    for i, raw in enumerate(_list_of_str(w.get("recipients", []), f"{root}.whatsapp.recipients")):
        try:
            wa_recipients.append(normalize_e164(raw))
        except InvalidPhoneNumber:
            raise DeliverySettingsError(
                f"numero {raw!r} non valido (es. +393331234567)", f"{root}.whatsapp.recipients[{i}]"
            ) from None
    for key in ("template", "language"):
        if key in w and not isinstance(w[key], str):
            raise DeliverySettingsError("deve essere un testo", f"{root}.whatsapp.{key}")
    whatsapp = WhatsAppTarget(
        tuple(wa_recipients), str(w.get("template", "")), str(w.get("language", ""))
    )
    if "whatsapp" in channels and not whatsapp.recipients:
        raise DeliverySettingsError(
            "indicare almeno un numero WhatsApp", f"{root}.whatsapp.recipients"
        )

    e = _table(d.get("email"), f"{root}.email", {"recipients", "always"})
    mails = _list_of_str(e.get("recipients", []), f"{root}.email.recipients")
    for i, addr in enumerate(mails):
        if not _EMAIL.match(addr):
            raise DeliverySettingsError(
                f"indirizzo email {addr!r} non valido", f"{root}.email.recipients[{i}]"
            )
    always = e.get("always", False)
    if not isinstance(always, bool):
        raise DeliverySettingsError("deve essere vero o falso", f"{root}.email.always")
    email = EmailTarget(tuple(mails), always)
    if "email" in channels and not email.recipients:
        raise DeliverySettingsError(
            "indicare almeno un indirizzo email", f"{root}.email.recipients"
        )

    h = _table(d.get("webhook"), f"{root}.webhook", {"url", "secret", "secret_env"})
    webhook = WebhookTarget()
    if h or "webhook" in channels:
        url = _url(h.get("url", ""), f"{root}.webhook.url")
        sec, sec_env = h.get("secret", ""), h.get("secret_env", "")
        if not isinstance(sec, str):
            raise DeliverySettingsError("deve essere un testo", f"{root}.webhook.secret")
        if sec_env and (not isinstance(sec_env, str) or not _ENV.match(sec_env)):
            raise DeliverySettingsError(
                "nome di variabile d'ambiente non valido", f"{root}.webhook.secret_env"
            )
        if not sec and not sec_env:
            raise DeliverySettingsError(
                "serve il segreto per la firma HMAC (secret o secret_env)", f"{root}.webhook.secret"
            )
        webhook = WebhookTarget(url, sec, str(sec_env))

    quiet = None
    q = _table(d.get("quiet_hours"), f"{root}.quiet_hours", {"start", "end"})
    if q:
        parts = []
        for key in ("start", "end"):
            val = q.get(key, "")
            if not isinstance(val, str) or not _HHMM.match(val):
                raise DeliverySettingsError("orario HH:MM non valido", f"{root}.quiet_hours.{key}")
            hh, mm = val.split(":")
            parts.append(time(int(hh), int(mm)))
        if parts[0] == parts[1]:
            raise DeliverySettingsError("inizio e fine coincidono", f"{root}.quiet_hours.end")
        quiet = QuietHours(parts[0], parts[1])

    crm_raw = d.get("crm", [])
    if not isinstance(crm_raw, list):
        raise DeliverySettingsError("deve essere una lista di CRM", f"{root}.crm")
    crm = []
    seen: set[str] = set()
    for i, item in enumerate(crm_raw):
        where = f"{root}.crm[{i}]"
        if not isinstance(item, Mapping):
            raise DeliverySettingsError("deve essere una tabella", where)
        kind = item.get("type")
        if kind not in CRM_TYPES:
            raise DeliverySettingsError(
                f"tipo {kind!r} non valido (ammessi: {', '.join(CRM_TYPES)})", f"{where}.type"
            )
        if kind in seen:
            raise DeliverySettingsError("CRM già configurato", f"{where}.type")
        seen.add(kind)
        mapping_raw = item.get("mapping", {})
        if not isinstance(mapping_raw, Mapping):
            raise DeliverySettingsError(
                "deve essere una tabella campo CRM → campo lead", f"{where}.mapping"
            )
        mapping: dict[str, str] = {}
        for crm_field, ours in mapping_raw.items():
            mwhere = f"{where}.mapping.{crm_field}"
            if not isinstance(crm_field, str) or not crm_field.strip():
                raise DeliverySettingsError("nome di campo CRM vuoto", f"{where}.mapping")
            if not isinstance(ours, str) or not (ours.startswith("=") or ours in LEAD_FIELDS):
                raise DeliverySettingsError(
                    f"campo lead {ours!r} sconosciuto (ammessi: {', '.join(LEAD_FIELDS)}, "
                    "oppure =testo fisso)",
                    mwhere,
                )
            mapping[crm_field] = ours
        options = {k: v for k, v in item.items() if k not in ("type", "mapping")}
        for key, val in options.items():
            if key.endswith("_env") and (not isinstance(val, str) or not _ENV.match(val)):
                raise DeliverySettingsError(
                    "nome di variabile d'ambiente non valido", f"{where}.{key}"
                )
        from centralino.delivery.crm import connector_class

        connector_class(str(kind)).validate_options(options, where)
        crm.append(CrmTarget(str(kind), mapping, options))

    max_attempts = d.get("max_attempts")
    if max_attempts is not None and (
        isinstance(max_attempts, bool)
        or not isinstance(max_attempts, int)
        or not 1 <= max_attempts <= 50
    ):
        raise DeliverySettingsError("deve essere un intero tra 1 e 50", f"{root}.max_attempts")

    return TenantDelivery(channels, whatsapp, email, webhook, quiet, tuple(crm), max_attempts)
