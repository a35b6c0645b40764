"""The durable outbox: planning rows for a lead, claiming, marking, the admin's view.

Claiming is safe with several dispatcher processes:

* PostgreSQL: ``SELECT id ... FOR UPDATE SKIP LOCKED LIMIT n`` picks due rows
  nobody else is claiming (and locks them), then one ``UPDATE ... RETURNING``
  flips them to ``sending`` in the same transaction.
* SQLite: the same SELECT (no row locks in SQLite), then ``UPDATE ... WHERE id
  IN (...) AND <still due> RETURNING id``; SQLite runs the UPDATE under its
  single-writer lock, so a row is flipped by exactly one process.

A claim carries a lease (``lease_until``) and a fencing token (``claim_token``).
A crashed dispatcher's rows become due again when the lease expires; only the
holder of the current token can mark the outcome, so a late answer from an
expired claim cannot overwrite a newer one.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from centralino.db.base import utcnow
from centralino.db.session import Database
from centralino.delivery.errors import SendError
from centralino.delivery.models import DEAD, DELIVERED, PENDING, SENDING, Delivery
from centralino.delivery.settings import DeliverySettings, TenantDelivery

log = logging.getLogger(__name__)


class DeliveryNotFound(LookupError):
    """No such delivery for this tenant (another tenant's id is "not found" too)."""


@dataclass(frozen=True)
class ClaimedDelivery:
    """A row this dispatcher owns until ``lease_until`` (a detached snapshot)."""

    id: int
    tenant_id: int
    lead_id: int | None
    kind: str
    channel: str
    recipient: str
    payload: dict[str, Any]
    idempotency_key: str
    attempts: int
    max_attempts: int
    claim_token: str
    lease_until: datetime


@dataclass(frozen=True)
class DeliveryView:
    """What the admin shows for a delivery."""

    id: int
    tenant_id: int
    lead_id: int | None
    kind: str
    channel: str
    recipient: str
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    last_error: str
    last_status: int | None
    external_id: str
    fallback_of: int | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


def _view(d: Delivery) -> DeliveryView:
    return DeliveryView(
        id=d.id,
        tenant_id=d.tenant_id,
        lead_id=d.lead_id,
        kind=d.kind,
        channel=d.channel,
        recipient=d.recipient,
        status=d.status,
        attempts=d.attempts,
        max_attempts=d.max_attempts,
        next_attempt_at=d.next_attempt_at,
        last_error=d.last_error,
        last_status=d.last_status,
        external_id=d.external_id,
        fallback_of=d.fallback_of,
        created_at=d.created_at,
        updated_at=d.updated_at,
        delivered_at=d.delivered_at,
    )


@dataclass
class PlannedRows:
    rows: list[Delivery] = field(default_factory=list)


def plan_lead_deliveries(
    *,
    tenant_id: int,
    lead_id: int,
    fields: dict[str, Any],
    target: TenantDelivery,
    settings: DeliverySettings,
    whatsapp_configured: bool,
    tenant_timezone: str,
    now: datetime,
) -> list[Delivery]:
    """The outbox rows for a new lead (not yet added to a session)."""
    max_attempts = target.max_attempts or settings.max_attempts
    notify_at = now
    if target.quiet_hours is not None:
        # Quiet hours defer the agency's notifications; CRM sync is not a disturbance.
        notify_at = target.quiet_hours.next_end(now, tenant_timezone) or now
    rows: list[Delivery] = []

    def add(
        kind: str,
        channel: str,
        key: str,
        payload: dict[str, Any],
        recipient: str = "",
        at: datetime = now,
    ) -> None:
        rows.append(
            Delivery(
                tenant_id=tenant_id,
                lead_id=lead_id,
                kind=kind,
                channel=channel,
                recipient=recipient,
                payload=payload,
                idempotency_key=key,
                status=PENDING,
                attempts=0,
                max_attempts=max_attempts,
                next_attempt_at=at,
                created_at=now,
                updated_at=now,
            )
        )

    wa_on = (
        "whatsapp" in target.channels and bool(target.whatsapp.recipients) and whatsapp_configured
    )
    for recipient in target.whatsapp.recipients if wa_on else ():
        add(
            "notify",
            "whatsapp",
            f"lead-{lead_id}-whatsapp-{recipient}",
            {
                "lead": fields,
                "template": target.whatsapp.template,
                "language": target.whatsapp.language,
                "fallback_email": list(target.email.recipients),
            },
            recipient,
            notify_at,
        )
    wants_email = "email" in target.channels and (not wa_on or target.email.always)
    # WhatsApp chosen but not configured on this installation: email is the fallback.
    wa_unavailable = "whatsapp" in target.channels and not wa_on
    if (wants_email or wa_unavailable) and target.email.recipients:
        reason = "whatsapp_not_configured" if wa_unavailable else ""
        add(
            "notify",
            "email",
            f"lead-{lead_id}-email",
            {"lead": fields, "reason": reason},
            ", ".join(target.email.recipients),
            notify_at,
        )
    if "webhook" in target.channels and target.webhook.url:
        add(
            "notify",
            "webhook",
            f"lead-{lead_id}-webhook",
            {"lead": fields},
            target.webhook.url,
            notify_at,
        )
    for crm in target.crm:
        channel = "crm_webhook" if crm.type == "webhook" else crm.type
        add("crm", channel, f"lead-{lead_id}-crm-{crm.type}", {"lead": fields, "crm": crm.type})
    return rows


class Outbox:
    """Outbox operations. Every admin-facing call takes the tenant explicitly."""

    def __init__(
        self,
        db: Database,
        settings: DeliverySettings | None = None,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings or DeliverySettings()
        self._rng = rng
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    # -- dispatcher side -------------------------------------------------

    @staticmethod
    def _due(now: datetime) -> Any:
        return or_(
            and_(Delivery.status == PENDING, Delivery.next_attempt_at <= now),
            and_(Delivery.status == SENDING, Delivery.lease_until < now),
        )

    def claim(self, worker: str, limit: int | None = None) -> list[ClaimedDelivery]:
        """Take up to ``limit`` due rows for ``worker``; each counts as an attempt."""
        now = self._clock()
        lease_until = now + timedelta(seconds=self.settings.lease_s)
        limit = limit or self.settings.batch_size
        claimed: list[ClaimedDelivery] = []
        # One token per claim batch: together with the row id it fences later marks.
        token = uuid.uuid4().hex
        with self.db.session() as s:
            due_ids = (
                select(Delivery.id)
                .where(self._due(now))
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(limit)
            )
            if not self.db.is_sqlite:
                due_ids = due_ids.with_for_update(skip_locked=True)
            # Two statements, deliberately: PostgreSQL may re-run an IN-subquery with
            # LIMIT ... SKIP LOCKED per row (claiming far more than the batch).
            # PostgreSQL: the SELECT locks these rows until commit, others skip them.
            # SQLite: the UPDATE re-checks "due" under the single-writer lock, so a row
            # another process claimed in between is simply not returned.
            candidates = list(s.scalars(due_ids))
            if not candidates:
                return []
            ids = list(
                s.scalars(
                    update(Delivery)
                    .where(Delivery.id.in_(candidates), self._due(now))
                    .values(
                        status=SENDING,
                        lease_until=lease_until,
                        claim_token=token,
                        claimed_by=worker[:80],
                        attempts=Delivery.attempts + 1,
                        updated_at=now,
                    )
                    .returning(Delivery.id)
                    .execution_options(synchronize_session=False)
                )
            )
            if not ids:
                return []
            for d in s.scalars(select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id)):
                claimed.append(
                    ClaimedDelivery(
                        id=d.id,
                        tenant_id=d.tenant_id,
                        lead_id=d.lead_id,
                        kind=d.kind,
                        channel=d.channel,
                        recipient=d.recipient,
                        payload=dict(d.payload or {}),
                        idempotency_key=d.idempotency_key,
                        attempts=d.attempts,
                        max_attempts=d.max_attempts,
                        claim_token=token,
                        lease_until=lease_until,
                    )
                )
        return claimed

    def _owned(self, s: Session, job: ClaimedDelivery) -> Delivery | None:
        query = select(Delivery).where(
            Delivery.id == job.id,
            Delivery.claim_token == job.claim_token,
            Delivery.status == SENDING,
        )
        if not self.db.is_sqlite:
            query = query.with_for_update()
        return s.scalar(query)

    def mark_delivered(self, job: ClaimedDelivery, external_id: str = "") -> bool:
        """Record success; False if the claim was lost (lease expired and re-claimed)."""
        now = self._clock()
        with self.db.session() as s:
            res = s.execute(
                update(Delivery)
                .where(
                    Delivery.id == job.id,
                    Delivery.claim_token == job.claim_token,
                    Delivery.status == SENDING,
                )
                .values(
                    status=DELIVERED,
                    delivered_at=now,
                    updated_at=now,
                    lease_until=None,
                    external_id=external_id[:200],
                    last_error="",
                    last_status=None,
                )
                .execution_options(synchronize_session=False)
            )
            ok = res.rowcount == 1  # type: ignore[attr-defined]
        if not ok:
            log.warning("delivery %s: claim lost before marking it delivered", job.id)
        return ok

    def backoff_s(self, attempts: int) -> float:
        """Exponential backoff with jitter (50–100 % of the step) so retries spread out."""
        step = min(
            self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** max(0, attempts - 1)
        )
        return step * (0.5 + 0.5 * self._rng())

    def mark_failed(self, job: ClaimedDelivery, error: SendError) -> str:
        """Record a failed attempt; returns the new status (pending or dead).

        A failed WhatsApp notification is handed over to email at once (the lead
        must reach a person; WhatsApp's own retries would only delay it): the
        email row is created in the same transaction that closes the WhatsApp row.
        """
        now = self._clock()
        with self.db.session() as s:
            d = self._owned(s, job)
            if d is None:
                log.warning("delivery %s: claim lost before recording failure: %s", job.id, error)
                return "lost"
            d.last_error = error.message[:4000]
            d.last_status = error.status
            d.updated_at = now
            d.lease_until = None
            fallback = self._email_fallback(s, d, now) if d.channel == "whatsapp" else None
            if fallback is not None:
                d.status = DEAD
                d.last_error = f"{d.last_error}\n→ inoltrato via email (consegna #{fallback})"
            elif not error.retryable or d.attempts >= d.max_attempts:
                d.status = DEAD
            else:
                if error.retry_after is not None:
                    delay = min(error.retry_after, self.settings.retry_after_max_s)
                else:
                    delay = self.backoff_s(d.attempts)
                d.status = PENDING
                d.next_attempt_at = now + timedelta(seconds=delay)
            status = d.status
        log.info(
            "delivery %s (%s, tenant %s) attempt %s failed -> %s: %s",
            job.id,
            job.channel,
            job.tenant_id,
            job.attempts,
            status,
            error.message,
        )
        return status

    def _email_fallback(self, s: Session, d: Delivery, now: datetime) -> int | None:
        recipients = list((d.payload or {}).get("fallback_email") or [])
        if not recipients or d.lead_id is None:
            return None
        key = f"lead-{d.lead_id}-email"
        existing = s.scalar(
            select(Delivery.id).where(Delivery.idempotency_key.in_([key, key + "-fallback"]))
        )
        if existing is not None:
            return int(existing)  # several WhatsApp recipients failing make one email
        row = Delivery(
            tenant_id=d.tenant_id,
            lead_id=d.lead_id,
            kind="notify",
            channel="email",
            recipient=", ".join(recipients),
            payload={"lead": (d.payload or {}).get("lead", {}), "reason": "whatsapp_failed"},
            idempotency_key=key + "-fallback",
            status=PENDING,
            attempts=0,
            max_attempts=d.max_attempts,
            next_attempt_at=now,
            fallback_of=d.id,
            created_at=now,
            updated_at=now,
        )
        s.add(row)
        s.flush()
        return row.id

    def defer(self, job: ClaimedDelivery, until: datetime, reason: str) -> bool:
        """Put a claimed row back without counting the attempt (quiet hours)."""
        now = self._clock()
        with self.db.session() as s:
            d = self._owned(s, job)
            if d is None:
                return False
            d.status = PENDING
            d.attempts = max(0, d.attempts - 1)
            d.next_attempt_at = until
            d.lease_until = None
            d.updated_at = now
            d.last_error = reason
        return True

    # -- admin side --------------------------------------------------------

    def list(
        self,
        tenant_id: int,
        *,
        status: str | Sequence[str] | None = None,
        lead_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[DeliveryView]:
        """A tenant's deliveries, newest first (``status="dead"`` = dead letters)."""
        query = select(Delivery).where(Delivery.tenant_id == tenant_id)
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            query = query.where(Delivery.status.in_(statuses))
        if lead_id is not None:
            query = query.where(Delivery.lead_id == lead_id)
        query = (
            query.order_by(Delivery.id.desc()).limit(max(1, min(limit, 500))).offset(max(0, offset))
        )
        with self.db.session() as s:
            return [_view(d) for d in s.scalars(query)]

    def get(self, tenant_id: int, delivery_id: int) -> DeliveryView:
        with self.db.session() as s:
            d = s.scalar(
                select(Delivery).where(Delivery.id == delivery_id, Delivery.tenant_id == tenant_id)
            )
            if d is None:
                raise DeliveryNotFound(f"consegna {delivery_id} non trovata")
            return _view(d)

    def counts(self, tenant_id: int) -> dict[str, int]:
        with self.db.session() as s:
            rows = s.execute(
                select(Delivery.status, func.count())
                .where(Delivery.tenant_id == tenant_id)
                .group_by(Delivery.status)
            ).all()
        out = {st: 0 for st in (PENDING, SENDING, DELIVERED, DEAD)}
        out.update({str(st): int(n) for st, n in rows})
        return out

    def retry_now(self, tenant_id: int, delivery_id: int) -> DeliveryView:
        """The admin's "retry now": a dead or waiting row is due at once with a fresh budget.

        A row being sent right now or already delivered is left alone (returned as is).
        """
        now = self._clock()
        with self.db.session() as s:
            d = s.scalar(
                select(Delivery).where(Delivery.id == delivery_id, Delivery.tenant_id == tenant_id)
            )
            if d is None:
                raise DeliveryNotFound(f"consegna {delivery_id} non trovata")
            if d.status in (DEAD, PENDING):
                d.status = PENDING
                d.attempts = 0
                d.next_attempt_at = now
                d.updated_at = now
                log.info("delivery %s (tenant %s): retry requested", d.id, tenant_id)
            return _view(d)
