"""Users of an agency (agency admin) or of the whole installation."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from admin_web.auth import client_ip
from admin_web.scoping import ADMINS, get_or_404, require_role, scoped, tenant_scope
from admin_web.services import current_services
from centralino.accounts.models import User
from centralino.accounts.service import AccountError, Role
from centralino.tenants.models import Tenant

bp = Blueprint("users", __name__, url_prefix="/users", template_folder="templates")


def _page(
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    created: tuple[str, str] | None = None,
) -> Any:
    with current_services().db.session() as s:
        users = s.execute(
            scoped(
                select(User, Tenant.name)
                .outerjoin(Tenant, User.tenant_id == Tenant.id)
                .order_by(Tenant.name, User.email),
                User.tenant_id,
            )
        ).all()
        tenants = list(
            s.execute(scoped(select(Tenant.id, Tenant.name).order_by(Tenant.name), Tenant.id))
        )
    roles = [Role.AGENCY_ADMIN.value, Role.AGENT.value]
    if current_user.role == Role.INSTALLATION_ADMIN:
        roles.insert(0, Role.INSTALLATION_ADMIN.value)
    status = 400 if errors else 200
    return render_template(
        "users/list.html",
        users=users,
        tenants=tenants,
        roles=roles,
        errors=errors or {},
        form=form or {},
        created=created,
    ), status


@bp.route("/")
@require_role(*ADMINS)
def index() -> Any:
    return _page()


@bp.route("/", methods=["POST"])
@require_role(*ADMINS)
def create() -> Any:
    form = {k: request.form.get(k, "") for k in ("email", "role", "tenant")}
    scope = tenant_scope()
    role = form["role"]
    if scope is not None and role == Role.INSTALLATION_ADMIN:
        abort(403)
    tenant_id: int | None
    if scope is not None:
        tenant_id = scope  # an agency admin creates users of their own agency only
    else:
        try:
            tenant_id = int(form["tenant"]) if form["tenant"] else None
        except ValueError:
            tenant_id = None
    try:
        new = current_services().accounts.create_user(
            form["email"], role, tenant_id, None, actor=current_user, ip=client_ip()
        )
    except AccountError as exc:
        messages = {
            "email": _("Invalid or already used e-mail address."),
            "role": _("Choose a role."),
            "tenant": _("Choose the agency this user belongs to."),
        }
        return _page({exc.field: messages.get(exc.field, str(exc))}, form)
    # The generated password is shown in this response only (never stored, never flashed).
    return _page(created=(new.email, new.generated_password))


@bp.route("/<int:user_id>/active", methods=["POST"])
@require_role(*ADMINS)
def set_active(user_id: int) -> Response:
    services = current_services()
    with services.db.session() as s:
        user = get_or_404(s, User, user_id)
        if user.id == current_user.id:
            flash(_("You cannot suspend your own account."), "error")
            return redirect(url_for("users.index"))
        if user.role == Role.INSTALLATION_ADMIN and current_user.role != Role.INSTALLATION_ADMIN:
            abort(403)
        services.accounts.set_active(
            s, user, request.form.get("active") == "1", actor=current_user, ip=client_ip()
        )
    flash(_("User updated."), "success")
    return redirect(url_for("users.index"))


@bp.route("/<int:user_id>/reset-password", methods=["POST"])
@require_role(*ADMINS)
def reset_password(user_id: int) -> Any:
    services = current_services()
    with services.db.session() as s:
        user = get_or_404(s, User, user_id)
        if user.role == Role.INSTALLATION_ADMIN and current_user.role != Role.INSTALLATION_ADMIN:
            abort(403)
        password = services.accounts.reset_password(s, user, actor=current_user, ip=client_ip())
        email = user.email
    return _page(created=(email, password))
