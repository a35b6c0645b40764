"""Dashboard: today's numbers, today's leads and the calls in progress."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from sqlalchemy import select

from admin_web.scoping import scoped
from admin_web.services import current_services
from admin_web.stats import dashboard_stats, start_of_today
from centralino.calls.models import Call
from centralino.leads.models import Lead
from centralino.tenants.models import Tenant

bp = Blueprint("dashboard", __name__, template_folder="templates")


def _live_calls(s: Any) -> list[Any]:
    # Read from the database: correct whichever process runs the controller.
    return list(
        s.execute(
            scoped(
                select(Call, Tenant.name)
                .outerjoin(Tenant, Call.tenant_id == Tenant.id)
                .where(Call.state != "ended")
                .order_by(Call.started_at.desc())
                .limit(50),
                Call.tenant_id,
            )
        ).all()
    )


@bp.route("/")
def index() -> str:
    with current_services().db.session() as s:
        stats = dashboard_stats(s)
        leads = s.execute(
            scoped(
                select(Lead, Tenant.name)
                .join(Tenant, Lead.tenant_id == Tenant.id)
                .where(Lead.created_at >= start_of_today())
                .order_by(Lead.created_at.desc())
                .limit(50),
                Lead.tenant_id,
            )
        ).all()
        live = _live_calls(s)
        return render_template("dashboard/index.html", stats=stats, leads=leads, live=live)


@bp.route("/live")
def live() -> str:
    """The "calls in progress" table alone; the page refreshes it every few seconds."""
    with current_services().db.session() as s:
        return render_template("dashboard/_live.html", live=_live_calls(s))
