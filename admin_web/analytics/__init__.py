"""The Analytics page of the admin: charts, date range and client filters, CSV export.

The numbers come from :class:`centralino.analytics.service.AnalyticsService`
(the same report the API's ``/api/v1/stats`` returns). Charts are drawn by
Chart.js, vendored under ``static/vendor/chartjs`` (MIT, see its LICENSE.md):
nothing is loaded from a CDN. The page's strings live in their own gettext
domain (``translations/*/LC_MESSAGES/analytics.po``), Italian by default.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, abort, render_template, request
from flask_babel import Domain
from markupsafe import Markup
from sqlalchemy import select

from admin_web.scoping import get_or_404, scoped, tenant_scope
from admin_web.services import current_services
from centralino.analytics.service import (
    LEAD_FIELD_BITS,
    AnalyticsError,
    AnalyticsService,
    DateRange,
    Report,
    TenantContext,
)
from centralino.tenants.models import Tenant

PACKAGE_DIR = Path(__file__).resolve().parent
domain = Domain(translation_directories=[str(PACKAGE_DIR / "translations")], domain="analytics")
_ = domain.gettext

bp = Blueprint(
    "analytics",
    __name__,
    url_prefix="/analytics",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

DEFAULT_DAYS = 30


def register(app: Flask, services: Any) -> None:
    from admin_web.app import NavItem

    app.register_blueprint(bp)
    app.extensions.setdefault("centralino_nav", []).append(
        NavItem("analytics.index", domain.lazy_gettext("Analytics"))
    )


def _tenants(s: Any) -> list[Tenant]:
    return list(s.scalars(scoped(select(Tenant).order_by(Tenant.name), Tenant.id)))


def _choose_tenant(s: Any, tenants: list[Tenant]) -> Tenant:
    raw = request.args.get("tenant")
    if raw:
        tenant: Tenant = get_or_404(s, Tenant, raw, Tenant.id)
        return tenant
    scope = tenant_scope()
    if scope is not None:
        own: Tenant = get_or_404(s, Tenant, scope, Tenant.id)
        return own
    if not tenants:
        abort(404)
    return tenants[0]


def _range(tenant: Tenant) -> tuple[DateRange, str]:
    """The requested range, or the last 30 days and an error message naming the field."""
    today = datetime.now(ZoneInfo(tenant.timezone or "Europe/Rome")).date()
    default = DateRange(today - timedelta(days=DEFAULT_DAYS - 1), today)
    start, end = request.args.get("from") or None, request.args.get("to") or None
    if start is None and end is None:
        return default, ""
    try:
        return DateRange.parse(start, end, default_days=DEFAULT_DAYS), ""
    except AnalyticsError as exc:
        messages = {
            "from": _("The start date is not a valid date (YYYY-MM-DD)."),
            "to": _("The end date must be a valid date, not before the start date, "
                    "at most 400 days later."),
        }  # fmt: skip
        return default, messages.get(exc.field, str(exc))


def _report(tenant: Tenant, rng: DateRange) -> Report:
    services = current_services()
    return AnalyticsService(services.db).report(TenantContext.from_tenant(tenant), rng)


def _chart_data(report: Report) -> dict[str, Any]:
    latency = {
        metric: [
            {"day": p.day.isoformat(), **p.values} for p in report.latency if p.metric == metric
        ]
        for metric in ("reply_ms", "first_audio_ms")
    }
    return {
        "by_day": [{"day": d.isoformat(), "calls": n} for d, n in report.calls_by_day],
        "by_hour": report.calls_by_hour,
        "score_bands": report.score_bands,
        "budget_bands": report.budget_bands,
        "zones": dict(list(report.zones.items())[:12]),
        "urgency": report.urgency,
        "sentiment": report.sentiment,
        "usage": report.provider_usage,
        "latency": latency,
        "labels": {
            "calls": _("Calls"),
            "p50": _("median"),
            "p90": "p90",
            "p95": "p95",
            "reply": _("Reply time (ms)"),
            "first_audio": _("First audio (ms)"),
            "positive": _("positive"),
            "neutral": _("neutral"),
            "negative": _("negative"),
            "high": _("high"),
            "medium": _("medium"),
            "low": _("low"),
            "n/d": _("not given"),
            "unscored": _("not scored"),
            "unknown": _("not given"),
        },
    }


@bp.route("/")
def index() -> tuple[str, int]:
    with current_services().db.session() as s:
        tenants = _tenants(s)
        tenant = _choose_tenant(s, tenants)
        rng, error = _range(tenant)
        try:
            report = _report(tenant, rng)
        except ValueError as exc:  # the tenant's cost settings do not validate
            report, error = _report_without_costs(tenant, rng), str(exc)
        data = json.dumps(_chart_data(report), ensure_ascii=False).replace("</", "<\\/")
        return render_template(
            "analytics/index.html",
            t=_,
            tenants=tenants,
            tenant=tenant,
            can_choose=tenant_scope() is None,
            rng=rng,
            report=report,
            error=error,
            chart_json=Markup(data),
        ), (400 if error else 200)


def _report_without_costs(tenant: Tenant, rng: DateRange) -> Report:
    ctx = TenantContext(
        id=tenant.id,
        timezone=tenant.timezone or "Europe/Rome",
        required_fields=tuple(
            str(q.get("key")) for q in tenant.questions or [] if q.get("required")
        ),
    )
    return AnalyticsService(current_services().db).report(ctx, rng)


CSV_COLUMNS = [
    "day", "calls", "answered", "avg_duration_s", "leads", "converted", "conversion_rate",
    "sentiment_positive", "sentiment_neutral", "sentiment_negative", "tts_chars",
    "reply_ms_p50", "reply_ms_p90", "reply_ms_p95", "first_audio_ms_p50", "first_audio_ms_p95",
]  # fmt: skip


@bp.route("/export.csv")
def export_csv() -> Response:
    with current_services().db.session() as s:
        tenant = _choose_tenant(s, _tenants(s))
        rng, error = _range(tenant)
        if error:
            return Response(error + "\n", status=400, mimetype="text/plain")
        ctx = TenantContext.from_tenant(tenant)
        slug = tenant.slug
    service = AnalyticsService(current_services().db)
    days = service.days(ctx, rng)
    required = 0
    for name in ctx.required_fields:
        required |= LEAD_FIELD_BITS.get(name, 0)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for day in rng.each_day():
        d = days[day]
        leads = sum(d["lead_masks"].values())
        converted = sum(n for m, n in d["lead_masks"].items() if int(m) & required == required)
        lat = d["latency"]
        writer.writerow(
            [
                day.isoformat(),
                d["calls"],
                d["answered"],
                round(d["seconds"] / d["answered"], 1) if d["answered"] else "",
                leads,
                converted,
                round(converted / d["calls"], 4) if d["calls"] else "",
                d["sentiment"].get("positive", 0),
                d["sentiment"].get("neutral", 0),
                d["sentiment"].get("negative", 0),
                sum(d["tts_chars"].values()),
                lat.get("reply_ms", {}).get("p50", ""),
                lat.get("reply_ms", {}).get("p90", ""),
                lat.get("reply_ms", {}).get("p95", ""),
                lat.get("first_audio_ms", {}).get("p50", ""),
                lat.get("first_audio_ms", {}).get("p95", ""),
            ]
        )
    name = f"analytics-{slug}-{rng.start.isoformat()}-{rng.end.isoformat()}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
