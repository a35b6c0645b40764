"""Counts shown on the dashboard and the client list (always tenant-scoped)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from admin_web.scoping import scoped
from centralino.calls.models import Call
from centralino.leads.models import Lead
from centralino.tenants.models import Tenant


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["ADMIN_SETTINGS"].timezone)


def start_of_today(now: datetime | None = None) -> datetime:
    """Midnight of the current day in the admin's time zone, as UTC."""
    zone = local_zone()
    local = (now or datetime.now(UTC)).astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def conversion(calls: int, leads: int) -> float | None:
    return round(100.0 * leads / calls, 1) if calls else None


@dataclass(frozen=True)
class DashboardStats:
    active_clients: int
    calls_today: int
    leads_today: int
    conversion_today: float | None
    in_progress: int


def real_calls() -> list[ColumnElement[bool]]:
    # Chat-simulator and test calls are excluded from the statistics.
    return [Call.simulated.is_(False)]


def dashboard_stats(s: Session) -> DashboardStats:
    since = start_of_today()
    active = s.scalar(
        scoped(select(func.count(Tenant.id)).where(Tenant.active.is_(True)), Tenant.id)
    )
    calls_today = s.scalar(
        scoped(
            select(func.count(Call.id)).where(Call.started_at >= since, *real_calls()),
            Call.tenant_id,
        )
    )
    converted = s.scalar(
        scoped(
            select(func.count(Lead.id))
            .join(Call, Lead.call_id == Call.id)
            .where(Call.started_at >= since, *real_calls()),
            Lead.tenant_id,
        )
    )
    leads_today = s.scalar(
        scoped(select(func.count(Lead.id)).where(Lead.created_at >= since), Lead.tenant_id)
    )
    in_progress = s.scalar(
        scoped(select(func.count(Call.id)).where(Call.state != "ended"), Call.tenant_id)
    )
    return DashboardStats(
        active_clients=int(active or 0),
        calls_today=int(calls_today or 0),
        leads_today=int(leads_today or 0),
        conversion_today=conversion(int(calls_today or 0), int(converted or 0)),
        in_progress=int(in_progress or 0),
    )


@dataclass(frozen=True)
class ClientStats:
    calls: int
    leads: int
    conversion: float | None
    last_call: datetime | None


def client_stats(s: Session, tenant_ids: list[int], days: int = 30) -> dict[int, ClientStats]:
    """Calls and leads of the last ``days`` days per tenant (ids already scoped)."""
    if not tenant_ids:
        return {}
    since = datetime.now(UTC) - timedelta(days=days)
    calls: dict[Any, Any] = dict(
        s.execute(
            select(Call.tenant_id, func.count(Call.id))
            .where(Call.tenant_id.in_(tenant_ids), Call.started_at >= since, *real_calls())
            .group_by(Call.tenant_id)
        )
        .tuples()
        .all()
    )
    leads: dict[Any, Any] = dict(
        s.execute(
            select(Lead.tenant_id, func.count(Lead.id))
            .where(Lead.tenant_id.in_(tenant_ids), Lead.created_at >= since)
            .group_by(Lead.tenant_id)
        )
        .tuples()
        .all()
    )
    last: dict[Any, Any] = dict(
        s.execute(
            select(Call.tenant_id, func.max(Call.started_at))
            .where(Call.tenant_id.in_(tenant_ids), *real_calls())
            .group_by(Call.tenant_id)
        )
        .tuples()
        .all()
    )
    out: dict[int, ClientStats] = {}
    for tid in tenant_ids:
        c, n = int(calls.get(tid, 0)), int(leads.get(tid, 0))
        last_at = last.get(tid)
        if last_at is not None and last_at.tzinfo is None:  # func.max bypasses UTCDateTime
            last_at = last_at.replace(tzinfo=UTC)
        out[tid] = ClientStats(c, n, conversion(c, n), last_at)
    return out
