"""The durable outbox: one row per (lead, delivery target), and the scheduler lease."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, Unicode
from sqlalchemy.orm import Mapped, mapped_column

from centralino.db.base import Base, UTCDateTime, utcnow

# Row life cycle: pending -> sending (claimed, leased) -> delivered | pending (retry) | dead.
PENDING = "pending"
SENDING = "sending"
DELIVERED = "delivered"
DEAD = "dead"
STATUSES = (PENDING, SENDING, DELIVERED, DEAD)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    # Null for messages that are not about one lead (the daily summary).
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), index=True, nullable=True
    )
    # notify | crm | summary
    kind: Mapped[str] = mapped_column(String(16))
    # whatsapp | email | webhook | salesforce | hubspot | pipedrive | crm_webhook
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(500), default="")
    # Everything needed to send, rendered at enqueue time (no secrets).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Sent to targets that support it, so a resend after a crash is not a duplicate.
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Owner of a "sending" row until this time; a crashed owner's rows come back after it.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Fencing token of the current claim: only the claimer can mark the outcome.
    claim_token: Mapped[str] = mapped_column(String(32), default="")
    claimed_by: Mapped[str] = mapped_column(String(80), default="")
    # The provider's own message for the last failure (shown in the admin).
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Provider id of what we created (wamid, CRM record id, Message-ID).
    external_id: Mapped[str] = mapped_column(String(200), default="")
    # The row this one replaces (email fallback of a failed WhatsApp message).
    fallback_of: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SchedulerLease(Base):
    """One row per singleton role ("scheduler"): who holds it and until when."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120), default="")
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ApschedulerJob(Base):
    """APScheduler's SQLAlchemyJobStore table, declared here so migrations own it.

    Same columns as APScheduler 3 creates (it skips creating an existing table);
    being in our metadata keeps Alembic autogenerate and the test clean-up aware of it.
    """

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(Unicode(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True, nullable=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)
