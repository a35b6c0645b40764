"""The audit log: every configuration change with who, when, before and after."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import func, select

from admin_web.scoping import ADMINS, require_role, scoped
from admin_web.services import current_services
from centralino.accounts.models import AuditEntry

bp = Blueprint("audit", __name__, url_prefix="/audit", template_folder="templates")
PAGE_SIZE = 50


@bp.route("/")
@require_role(*ADMINS)
def index() -> str:
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    stmt = scoped(select(AuditEntry), AuditEntry.tenant_id)
    with current_services().db.session() as s:
        total = int(s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
        entries = list(
            s.scalars(
                stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(PAGE_SIZE)
                .offset((page - 1) * PAGE_SIZE)
            )
        )
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template(
        "audit/list.html",
        entries=entries,
        page=page,
        pages=pages,
        args=lambda p: f"page={p}",
        changes=changes,
    )


def changes(before: dict | None, after: dict | None) -> list[tuple[str, object, object]]:
    """The keys whose value differs, for a compact before/after view."""
    before, after = before or {}, after or {}
    keys = sorted(set(before) | set(after))
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]
