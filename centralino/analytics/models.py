"""Indexes the analytics queries need on tables other areas own.

Declared on the shared metadata (so ``create_all`` and autogenerate know them)
and created by the ``apikeys`` migration branch. Every analytics query filters
on one tenant and a time range, so each index leads with ``tenant_id``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from centralino.calls.models import Call, Turn
from centralino.db.base import Base, UTCDateTime, utcnow
from centralino.leads.models import Lead

CALLS_TENANT_STARTED = Index(
    "ix_calls_tenant_started", Call.tenant_id, Call.started_at, Call.duration_s
)
TURNS_TENANT_AT = Index("ix_turns_tenant_at", Turn.tenant_id, Turn.at)
LEADS_TENANT_CREATED = Index("ix_leads_tenant_created", Lead.tenant_id, Lead.created_at)
# Simulated calls are rare: a partial index finds them without reading every call.
CALLS_SIMULATED = Index(
    "ix_calls_simulated",
    Call.tenant_id,
    Call.started_at,
    sqlite_where=Call.simulated == true(),
    postgresql_where=Call.simulated,
)


class AnalyticsDay(Base):
    """Every analytics metric of one tenant's local day, once the day is over.

    ``data`` is what ``AnalyticsService.compute_days`` returns for the day;
    ``version`` is ``ROLLUP_VERSION`` at the time, so a code change that alters
    the shape makes old rows be recomputed instead of misread.
    """

    __tablename__ = "analytics_days"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # local YYYY-MM-DD
    version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
