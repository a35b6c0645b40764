"""The scheduled jobs themselves. Each is also callable directly (``centralino jobs run-now``).

APScheduler keeps jobs in the database, so a job is stored as a textual
reference plus picklable arguments; live objects (the Database, the Config)
cannot be stored. The job runner therefore registers its :class:`JobContext`
under a name in :data:`CONTEXTS` and jobs receive only that name.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from centralino.backup.archive import run_backup
from centralino.calls.models import Call, CallEvent
from centralino.config import Config
from centralino.db.base import utcnow
from centralino.db.session import Database
from centralino.delivery.dispatcher import Dispatcher
from centralino.delivery.models import DEAD, PENDING, Delivery
from centralino.delivery.payload import budget_text
from centralino.delivery.settings import (
    DeliverySettings,
    DeliverySettingsError,
    parse_tenant_delivery,
)
from centralino.leads.models import Lead
from centralino.tenants.models import Tenant

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobsSettings:
    """``[jobs]``: schedule of the background jobs (times in ``timezone``)."""

    timezone: str = "Europe/Rome"
    dispatch_interval_s: float = 10.0
    backup_time: str = "03:30"
    retention_time: str = "04:00"
    summary_time: str = "19:00"
    analytics_time: str = "02:30"
    # Default for tenants without settings["retention"]["recordings_days"].
    recordings_retention_days: int = 90
    lease_ttl_s: float = 30.0


@dataclass(frozen=True)
class JobContext:
    db: Database
    config: Config


CONTEXTS: dict[str, JobContext] = {}


def _ctx(name: str) -> JobContext:
    try:
        return CONTEXTS[name]
    except KeyError:
        raise RuntimeError(f"job context {name!r} is not registered in this process") from None


# -- outbox ------------------------------------------------------------------


def dispatch_outbox(context: str = "default") -> dict[str, Any]:
    """Send what is due (one batch per run; the interval keeps it flowing)."""
    ctx = _ctx(context)

    async def once() -> Any:
        async with Dispatcher(ctx.db, ctx.config, worker_id=f"scheduler:{context}") as d:
            return await d.run_once()

    stats = asyncio.run(once())
    return dict(stats.__dict__)


# -- backup ----------------------------------------------------------------------


def daily_backup(context: str = "default") -> dict[str, Any]:
    ctx = _ctx(context)
    path, removed = run_backup(ctx.db, ctx.config)
    return {"archive": str(path), "removed": [str(p) for p in removed]}


# -- recording retention -----------------------------------------------------------


def _retention_days(tenant: Tenant, default: int) -> int:
    raw = ((tenant.settings or {}).get("retention") or {}).get("recordings_days", default)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        log.error(
            "tenant %s: invalid retention.recordings_days %r; using %d", tenant.id, raw, default
        )
        return default
    return raw


def _recording_file(recordings_dir: Path, stored: str) -> Path | None:
    """The file of ``Call.recording_path``, only if it lies inside the recordings folder."""
    path = Path(stored)
    full = (path if path.is_absolute() else recordings_dir / path).resolve()
    try:
        full.relative_to(recordings_dir.resolve())
    except ValueError:
        return None
    return full


def retention_cleanup(context: str = "default", now: datetime | None = None) -> dict[str, int]:
    """Delete call recordings older than each tenant's retention (personal data)."""
    ctx = _ctx(context)
    settings = ctx.config.section("jobs", JobsSettings)
    now = now or utcnow()
    recordings = ctx.config.recordings_dir
    report = {"deleted": 0, "missing": 0, "refused": 0}
    with ctx.db.session() as s:
        tenants = list(s.scalars(select(Tenant)))
        for tenant in tenants:
            cutoff = now - timedelta(
                days=_retention_days(tenant, settings.recordings_retention_days)
            )
            calls = s.scalars(
                select(Call).where(
                    Call.tenant_id == tenant.id, Call.started_at < cutoff, Call.recording_path != ""
                )
            ).all()
            for call in calls:
                path = _recording_file(recordings, call.recording_path)
                if path is None:
                    log.error(
                        "call %s: recording path %r outside %s, not deleted",
                        call.id,
                        call.recording_path,
                        recordings,
                    )
                    report["refused"] += 1
                    continue
                if path.exists():
                    path.unlink()
                    report["deleted"] += 1
                else:
                    report["missing"] += 1
                s.add(
                    CallEvent(
                        call_id=call.id,
                        tenant_id=tenant.id,
                        kind="recording_deleted",
                        data={"path": call.recording_path, "reason": "retention"},
                    )
                )
                call.recording_path = ""
    log.info("recording retention: %s", report)
    return report


# -- daily summary ----------------------------------------------------------------


def _summary(
    tenant: Tenant, leads: list[Lead], calls: int, dead: int, day: str, admin: str
) -> tuple[str, str]:
    subject = f"Riepilogo del {day}: {len(leads)} nuovi contatti, {calls} chiamate"
    lines = [f"Riepilogo della giornata per {tenant.name} ({day}).", ""]
    lines.append(f"Chiamate ricevute: {calls}")
    lines.append(f"Nuovi contatti: {len(leads)}")
    if dead:
        lines.append(
            f"Attenzione: {dead} invii non riusciti: controllarli nella sezione consegne"
            f" dell'amministrazione ({admin.rstrip('/')})"
        )
    if leads:
        lines += ["", "Contatti (dal punteggio più alto):"]
        for lead in sorted(leads, key=lambda x: -(x.score or 0)):
            zone = f", {lead.zone}" if lead.zone else ""
            lines.append(
                f"- {lead.name or 'senza nome'} ({lead.phone or 'senza numero'}){zone}, "
                f"budget {budget_text(lead.budget_min, lead.budget_max)}, "
                f"punteggio {lead.score or 0}"
                + (f" – {admin.rstrip('/')}/calls/{lead.call_id}" if lead.call_id else "")
            )
    lines += ["", "— Centralino"]
    return subject, "\n".join(lines) + "\n"


def daily_summaries(context: str = "default", now: datetime | None = None) -> dict[str, int]:
    """Queue one summary email per tenant for its local day (idempotent per tenant and day)."""
    ctx = _ctx(context)
    delivery = ctx.config.section("delivery", DeliverySettings)
    now = now or utcnow()
    queued = 0
    with ctx.db.session() as s:
        for tenant in s.scalars(select(Tenant).where(Tenant.active.is_(True))):
            try:
                target = parse_tenant_delivery((tenant.settings or {}).get("delivery"))
            except DeliverySettingsError as exc:
                log.error("tenant %s: no summary, invalid delivery settings: %s", tenant.id, exc)
                continue
            if not target.email.recipients:
                continue
            zone = ZoneInfo(tenant.timezone or "Europe/Rome")
            local = now.astimezone(zone)
            start = datetime.combine(local.date(), datetime.min.time(), tzinfo=zone)
            day = local.strftime("%d/%m/%Y")
            key = f"summary-{tenant.id}-{local.date().isoformat()}"
            if s.scalar(select(Delivery.id).where(Delivery.idempotency_key == key)) is not None:
                continue
            leads = list(
                s.scalars(select(Lead).where(Lead.tenant_id == tenant.id, Lead.created_at >= start))
            )
            calls = s.scalar(
                select(func.count())
                .select_from(Call)
                .where(Call.tenant_id == tenant.id, Call.started_at >= start)
            )
            dead = s.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.tenant_id == tenant.id, Delivery.status == DEAD)
            )
            subject, body = _summary(
                tenant, leads, int(calls or 0), int(dead or 0), day, delivery.admin_base_url
            )
            s.add(
                Delivery(
                    tenant_id=tenant.id,
                    lead_id=None,
                    kind="summary",
                    channel="email",
                    recipient=", ".join(target.email.recipients),
                    payload={"subject": subject, "body": body},
                    idempotency_key=key,
                    status=PENDING,
                    max_attempts=target.max_attempts or delivery.max_attempts,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
            queued += 1
    return {"queued": queued}


def _classify_sentiment(context: str = "default") -> dict[str, int]:
    from centralino.analytics.jobs import classify_sentiment

    return classify_sentiment(context)


def _refresh_analytics(context: str = "default") -> dict[str, int]:
    from centralino.analytics.jobs import refresh_analytics

    return refresh_analytics(context)


JOBS = {
    "classify_sentiment": _classify_sentiment,
    "refresh_analytics": _refresh_analytics,
    "dispatch_outbox": dispatch_outbox,
    "daily_backup": daily_backup,
    "retention_cleanup": retention_cleanup,
    "daily_summaries": daily_summaries,
}
