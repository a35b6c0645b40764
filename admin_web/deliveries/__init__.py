"""Lead deliveries (WhatsApp, e-mail, webhook, CRM): status and "retry now".

The outbox belongs to ``centralino.delivery``; this page lists its rows within
the user's tenant and calls ``Outbox.retry_now(tenant_id, delivery_id)``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from admin_web.auth import client_ip
from admin_web.scoping import ADMINS, get_or_404, require_role, scoped
from admin_web.services import current_services
from centralino.delivery.models import DEAD, DELIVERED, PENDING, SENDING, Delivery
from centralino.delivery.outbox import Outbox
from centralino.tenants.models import Tenant

bp = Blueprint("deliveries", __name__, url_prefix="/deliveries", template_folder="templates")

STATUSES = (PENDING, SENDING, DELIVERED, DEAD)
PAGE_SIZE = 50


@bp.route("/")
@require_role(*ADMINS)
def index() -> str:
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    with current_services().db.session() as s:
        stmt = scoped(
            select(Delivery, Tenant.name).join(Tenant, Delivery.tenant_id == Tenant.id),
            Delivery.tenant_id,
        )
        if status:
            stmt = stmt.where(Delivery.status == status)
        rows = s.execute(stmt.order_by(Delivery.id.desc()).limit(PAGE_SIZE)).all()
        counts = dict(
            s.execute(
                scoped(
                    select(Delivery.status, func.count()).group_by(Delivery.status),
                    Delivery.tenant_id,
                )
            )
            .tuples()
            .all()
        )
    return render_template(
        "deliveries/list.html", rows=rows, counts=counts, status=status, statuses=STATUSES
    )


@bp.route("/<int:delivery_id>/retry", methods=["POST"])
@require_role(*ADMINS)
def retry(delivery_id: int) -> Response:
    services = current_services()
    with services.db.session() as s:
        row = get_or_404(s, Delivery, delivery_id)  # another agency's delivery: 404
        tenant_id, before = row.tenant_id, {"status": row.status, "attempts": row.attempts}
    view = Outbox(services.db).retry_now(tenant_id, delivery_id)
    with services.db.session() as s:
        services.accounts.audit(
            s,
            current_user,
            "delivery.retry",
            "delivery",
            str(delivery_id),
            tenant_id=tenant_id,
            before=before,
            after={"status": view.status, "attempts": view.attempts},
            ip=client_ip(),
        )
    if view.status == PENDING:
        flash(_("The delivery will be retried in a moment."), "success")
    else:
        flash(_("This delivery is being sent or already delivered."), "info")
    return redirect(request.referrer if _same_site(request.referrer) else url_for(".index"))


def _same_site(url: Any) -> bool:
    return isinstance(url, str) and url.startswith(request.host_url)
