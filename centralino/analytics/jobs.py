"""Background jobs of the analytics area, in the shape ``centralino.jobs`` schedules.

Like ``centralino.jobs.tasks``, each job takes the name of a registered
:class:`~centralino.jobs.tasks.JobContext` (APScheduler stores jobs by
reference, not live objects). Suggested schedule:

* ``classify_sentiment``: every minute - sentiment of the calls that ended;
* ``refresh_analytics``: nightly - recompute the last week's settled days, so
  late sentiment or rescored leads reach the stored days.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from centralino.analytics.service import AnalyticsService, DateRange, TenantContext
from centralino.tenants.models import Tenant

log = logging.getLogger(__name__)

# One classifier per process: the prototypes are embedded once.
_SERVICES: dict[int, Any] = {}


def classify_sentiment(context: str = "default", limit: int = 200) -> dict[str, int]:
    from centralino.jobs.tasks import _ctx
    from centralino.sentiment.service import SentimentService

    ctx = _ctx(context)
    service = _SERVICES.get(id(ctx.db))
    if service is None:
        service = _SERVICES[id(ctx.db)] = SentimentService(ctx.db)
    return {"classified": service.run_pending(limit=limit)}


def refresh_analytics(context: str = "default", days: int = 7) -> dict[str, int]:
    from centralino.jobs.tasks import _ctx

    ctx = _ctx(context)
    service = AnalyticsService(ctx.db)
    refreshed = 0
    with ctx.db.session() as s:
        tenants = list(s.scalars(select(Tenant).where(Tenant.active.is_(True))))
    for tenant in tenants:
        try:
            tc = TenantContext.from_tenant(tenant)
            settled = datetime.now(tc.zone).date() - timedelta(days=service.settle_days)
            refreshed += service.refresh(tc, DateRange(settled - timedelta(days=days - 1), settled))
        except ValueError:  # invalid cost settings or time zone: that tenant only
            log.exception("analytics refresh failed for tenant %s", tenant.id)
    return {"tenants": len(tenants), "days": refreshed}
