"""The admin's "API keys" page: create (shown once), list and revoke a tenant's keys.

Agency admins manage their own agency's keys; the installation admin picks the
agency. Every change is written to the audit log in the same transaction.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from admin_web.analytics import domain
from admin_web.scoping import get_or_404, require_role, scoped, tenant_scope
from admin_web.services import current_services
from centralino.accounts.service import Role
from centralino.apikeys.models import ApiKey
from centralino.apikeys.service import ApiKeyError, ApiKeyService
from centralino.tenants.models import Tenant

_ = domain.gettext
bp = Blueprint("apikeys", __name__, url_prefix="/api-keys", template_folder="templates")
ADMINS = (Role.INSTALLATION_ADMIN, Role.AGENCY_ADMIN)


def _tenant(s: Any, raw: str | None) -> Tenant:
    if raw:
        tenant: Tenant = get_or_404(s, Tenant, raw, Tenant.id)
        return tenant
    scope = tenant_scope()
    if scope is not None:
        own: Tenant = get_or_404(s, Tenant, scope, Tenant.id)
        return own
    first = s.scalar(select(Tenant).order_by(Tenant.name))
    if first is None:
        abort(404)
    return first


def _page(tenant_raw: str | None, created: Any = None, error: str = "", status: int = 200) -> Any:
    services = current_services()
    with services.db.session() as s:
        tenant = _tenant(s, tenant_raw)
        tenants = list(s.scalars(scoped(select(Tenant).order_by(Tenant.name), Tenant.id)))
        keys = ApiKeyService(services.db).for_tenant(tenant.id)
        return render_template(
            "apikeys/index.html",
            t=_,
            tenant=tenant,
            tenants=tenants,
            can_choose=tenant_scope() is None,
            keys=keys,
            created=created,
            error=error,
        ), status


@bp.get("/")
@require_role(*ADMINS)
def index() -> Any:
    return _page(request.args.get("tenant"))


@bp.post("/create")
@require_role(*ADMINS)
def create() -> Any:
    services = current_services()
    tenant_raw = request.form.get("tenant")
    with services.db.session() as s:
        tenant_id = _tenant(s, tenant_raw).id
    scopes = "read,write" if request.form.get("write") == "1" else "read"
    try:
        new = ApiKeyService(services.db).create(tenant_id, request.form.get("name", ""), scopes)
    except ApiKeyError:
        return _page(str(tenant_id), error=_("Give the key a name (at most 100 characters)."),
                     status=400)  # fmt: skip
    with services.db.session() as s:
        services.accounts.audit(
            s, current_user, "apikey.create", "api_key", str(new.info.id), tenant_id=tenant_id,
            after={"prefix": new.info.prefix, "name": new.info.name,
                   "scopes": list(new.info.scopes)},
        )  # fmt: skip
    return _page(str(tenant_id), created=new)


@bp.post("/<int:key_id>/revoke")
@require_role(*ADMINS)
def revoke(key_id: int) -> Any:
    services = current_services()
    with services.db.session() as s:
        key = get_or_404(s, ApiKey, key_id)  # another agency's key: 404
        tenant_id, prefix = key.tenant_id, key.prefix
    ApiKeyService(services.db).revoke(tenant_id, key_id)
    with services.db.session() as s:
        services.accounts.audit(
            s, current_user, "apikey.revoke", "api_key", str(key_id), tenant_id=tenant_id,
            before={"prefix": prefix},
        )  # fmt: skip
    flash(_("The key %(prefix)s is revoked: it stops working immediately.", prefix=prefix),
          "success")  # fmt: skip
    return redirect(url_for("apikeys.index", tenant=tenant_id))
