"""Storing the lead of a finished call, with its score and its outbox rows.

Contract with the pbx call session (called once at hang-up, safe to repeat)::

    lead_id = LeadService(db, config).save_from_call(tenant_id, call_id, result)

``result`` is ``{"outcome": "lead", "lead": {...}, "transcript": [...]}`` where
``lead`` has name, phone, request_type, property_type, zone, budget_min,
budget_max (numbers of euros or None), urgency, callback_time, notes, confidence
(and optionally email), and ``transcript`` is a list of ``{"speaker":
"caller"|"agent", "text": str}`` (plain strings are accepted as caller lines).

The lead, its score and one outbox row per delivery target are written in ONE
transaction: either the lead exists with all its deliveries queued, or nothing
was written. A second call for the same ``call_id`` returns the existing lead.
Only structural errors raise :class:`LeadError` (nothing written); a bad field
value never loses the lead: it is dropped, and kept verbatim in the notes.

What is a lead (:func:`has_caller_data`): a call where the caller gave anything an
agent can act on — any lead field, an answer, a message, why they called, words the
agent did not understand — even if they hung up half-way (the dialogue lists what is
missing in the notes; it decides the ``lead`` outcome, which is always a lead here).
A call where the caller said nothing useful (silence, "Pronto?", a misdial: outcome
``abandoned``) is not a lead: delivering it by WhatsApp/email would only be noise.
It stays in the call log as an abandoned call, with its caller id, for a call-back.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from centralino.calls.models import Call
from centralino.config import Config
from centralino.db.base import utcnow
from centralino.db.session import Database
from centralino.delivery.outbox import plan_lead_deliveries
from centralino.delivery.payload import lead_fields
from centralino.delivery.settings import (
    DeliverySettings,
    DeliverySettingsError,
    TenantDelivery,
    WhatsAppSettings,
    parse_tenant_delivery,
)
from centralino.leads.models import Lead
from centralino.scoring import ScoringError, parse_scoring_settings, score_lead
from centralino.tenants.models import Tenant
from centralino.tenants.phone import InvalidPhoneNumber, normalize_e164

log = logging.getLogger(__name__)

_TEXT_FIELDS = {
    "name": 200,
    "phone": 32,
    "request_type": 20,
    "property_type": 40,
    "zone": 120,
    "urgency": 20,
    "callback_time": 120,
}
CALLER_SPEAKERS = ("caller", "cliente", "user")
# Fields only the caller can fill; the phone is the caller id by default, so it alone
# says nothing.
CALLER_FIELDS = (*(k for k in _TEXT_FIELDS if k != "phone"), "budget_min", "budget_max")


def has_caller_data(result: Mapping[str, Any]) -> bool:
    """True when a call result is a lead to store and deliver (see the module doc).

    The dialogue's ``lead`` outcome always is (it may hold only a message); any other
    outcome is one only if the caller filled a lead field or answered a question:
    no lead is ever lost, and no lead is made of a caller id alone.
    """
    lead = result.get("lead")
    if not isinstance(lead, Mapping):
        return False
    if result.get("outcome") == "lead":
        return True
    return bool(result.get("answers")) or any(
        lead.get(key) not in (None, "") for key in CALLER_FIELDS
    )


class LeadError(ValueError):
    """The call result cannot be stored; ``field`` names the culprit. Nothing was written."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def _transcript(raw: Any) -> tuple[str, list[str]]:
    """(readable transcript, caller lines)."""
    if raw is None:
        return "", []
    if isinstance(raw, str):
        return raw, [raw]
    if not isinstance(raw, list):
        raise LeadError("transcript must be a list of turns", "transcript")
    lines, caller = [], []
    for i, turn in enumerate(raw):
        if isinstance(turn, str):
            speaker, text = "caller", turn
        elif isinstance(turn, Mapping):
            speaker = str(turn.get("speaker", "caller")).lower()
            text = str(turn.get("text", ""))
        else:
            raise LeadError(f"transcript[{i}] must be a turn object", f"transcript[{i}]")
        label = "Cliente" if speaker in CALLER_SPEAKERS else "Receptionist"
        lines.append(f"{label}: {text}")
        if speaker in CALLER_SPEAKERS:
            caller.append(text)
    return "\n".join(lines), caller


class LeadService:
    def __init__(self, db: Database, config: Config | None = None) -> None:
        self.db = db
        self.config = config or Config({}, environ={})
        self.delivery = self.config.section("delivery", DeliverySettings)
        self.whatsapp = self.config.section("whatsapp", WhatsAppSettings)

    def save_from_call(self, tenant_id: int, call_id: str | None, result: Mapping[str, Any]) -> int:
        """Store the lead of a call and queue its deliveries; returns the lead id."""
        if not isinstance(result, Mapping):
            raise LeadError("call result must be an object", "result")
        raw = result.get("lead")
        if not isinstance(raw, Mapping):
            raise LeadError("call result has no lead object", "lead")
        if not has_caller_data(result):
            raise LeadError(
                f"the caller left nothing to act on (outcome {result.get('outcome')!r}): "
                "not a lead; the call log keeps the call",
                "lead",
            )
        transcript, caller_lines = _transcript(result.get("transcript"))
        try:
            with self.db.session() as s:
                return self._save(s, tenant_id, call_id, raw, transcript, caller_lines)
        except IntegrityError:
            # Two hang-up handlers racing on the same call: the other one stored it.
            if call_id:
                with self.db.session() as s:
                    existing = s.scalar(select(Lead.id).where(Lead.call_id == call_id))
                if existing is not None:
                    return int(existing)
            raise

    def _save(
        self,
        s: Session,
        tenant_id: int,
        call_id: str | None,
        raw: Mapping[str, Any],
        transcript: str,
        caller_lines: list[str],
    ) -> int:
        tenant = s.get(Tenant, tenant_id)
        if tenant is None:
            raise LeadError(f"tenant {tenant_id} does not exist", "tenant_id")
        if call_id:
            existing = s.scalar(select(Lead.id).where(Lead.call_id == call_id))
            if existing is not None:
                log.info("lead for call %s already stored as %s", call_id, existing)
                return int(existing)
            if s.get(Call, call_id) is None:
                log.warning("lead for unknown call %s stored without call link", call_id)
                call_id = None

        problems: list[str] = []
        values: dict[str, Any] = {}
        for key, limit in _TEXT_FIELDS.items():
            val = raw.get(key)
            if val is None:
                values[key] = ""
            elif isinstance(val, str | int) and not isinstance(val, bool):
                values[key] = str(val).strip()[:limit]
            else:
                problems.append(f"{key}={val!r}")
                values[key] = ""
        if values["phone"]:
            # An unparsable number is kept as said; an agent can still read it.
            with contextlib.suppress(InvalidPhoneNumber):
                values["phone"] = normalize_e164(values["phone"])
        for key in ("budget_min", "budget_max"):
            val = raw.get(key)
            if val is None:
                values[key] = None
            elif (
                isinstance(val, int | float)
                and not isinstance(val, bool)
                and math.isfinite(val)
                and val >= 0
            ):
                values[key] = round(val)
            else:
                # Never parse "350k" here: the dialogue engine owns extraction.
                problems.append(f"{key}={val!r}")
                values[key] = None
        lo, hi = values["budget_min"], values["budget_max"]
        if lo is not None and hi is not None and lo > hi:
            values["budget_min"], values["budget_max"] = hi, lo
        notes = str(raw.get("notes") or "")
        if problems:
            log.warning("call %s: lead fields not understood: %s", call_id, ", ".join(problems))
            notes = (
                (notes + "\n" if notes else "") + "Valori non interpretati: " + ", ".join(problems)
            )
        confidence_raw = raw.get("confidence") or {}
        confidence = (
            {str(k): float(v) for k, v in confidence_raw.items() if isinstance(v, int | float)}
            if isinstance(confidence_raw, Mapping)
            else {}
        )

        settings = tenant.settings or {}
        try:
            scoring = parse_scoring_settings(settings.get("scoring"))
        except ScoringError as exc:
            log.error("tenant %s: invalid scoring settings (%s); using defaults", tenant_id, exc)
            scoring = parse_scoring_settings(None)
        score = score_lead(values, caller_lines, list(tenant.premium_zones or []), scoring)

        now = utcnow()
        lead = Lead(
            tenant_id=tenant_id,
            call_id=call_id,
            created_at=now,
            notes=notes,
            transcript=transcript,
            confidence=confidence,
            score=score.value,
            score_reasons=score.reasons_as_dicts(),
            status="new",
            **values,
        )
        s.add(lead)
        s.flush()

        try:
            target = parse_tenant_delivery(settings.get("delivery"))
        except DeliverySettingsError as exc:
            # The admin validates before saving, so this is a hand-edited database;
            # the lead is still stored and shows up in the admin.
            log.error(
                "tenant %s: invalid delivery settings (%s); lead %s not sent",
                tenant_id,
                exc,
                lead.id,
            )
            target = TenantDelivery(channels=())
        email = raw.get("email") if isinstance(raw.get("email"), str) else ""
        fields = lead_fields(lead, self.delivery.admin_base_url, email=str(email or ""))
        rows = plan_lead_deliveries(
            tenant_id=tenant_id,
            lead_id=lead.id,
            fields=fields,
            target=target,
            settings=self.delivery,
            whatsapp_configured=self.whatsapp.configured,
            tenant_timezone=tenant.timezone or "Europe/Rome",
            now=now,
        )
        s.add_all(rows)
        s.flush()
        log.info(
            "lead %s stored for tenant %s (call %s, score %s, %d deliveries)",
            lead.id,
            tenant_id,
            call_id,
            score.value,
            len(rows),
        )
        return int(lead.id)

    def get(self, tenant_id: int, lead_id: int) -> Lead | None:
        with self.db.session() as s:
            return s.scalar(select(Lead).where(Lead.id == lead_id, Lead.tenant_id == tenant_id))
