"""Clients (agencies): list with statistics and the editor of their receptionist."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from admin_web.auth import client_ip
from admin_web.clients import prompting
from admin_web.clients.form import (
    DAYS,
    LIMITS,
    ClientForm,
    format_ranges,
    tenant_to_dict,
    validate,
)
from admin_web.scoping import ADMINS, get_or_404, require_role, scoped
from admin_web.services import current_services, optional_module
from admin_web.stats import client_stats
from centralino.accounts.service import Role
from centralino.tenants.defaults import (
    DEFAULT_BUSINESS_HOURS,
    DEFAULT_PROMPT_TEMPLATE,
    DEFAULT_QUESTIONS,
)
from centralino.tenants.models import Tenant
from centralino.tenants.service import TenantError, parse_spec

bp = Blueprint("clients", __name__, url_prefix="/clients", template_folder="templates")

_DID_IN_MESSAGE = re.compile(r"(\+\d{6,15})")


def _delivery_parser() -> Any | None:
    module = optional_module("centralino.delivery.settings")
    return getattr(module, "parse_tenant_delivery", None) if module else None


@bp.route("/")
def index() -> str:
    with current_services().db.session() as s:
        tenants = list(
            s.scalars(
                scoped(
                    select(Tenant).options(selectinload(Tenant.numbers)).order_by(Tenant.name),
                    Tenant.id,
                )
            )
        )
        stats = client_stats(s, [t.id for t in tenants])
    return render_template("clients/list.html", tenants=tenants, stats=stats)


def _render_editor(form: ClientForm, errors: dict[str, str], tenant: Tenant | None) -> Any:
    preview, preview_errors = prompting.preview(form.prompt_template, _form_tenant(form))
    status = 400 if errors else 200
    return (
        render_template(
            "clients/edit.html",
            form=form,
            errors=errors,
            tenant=tenant,
            days=DAYS,
            limits=LIMITS,
            variables=prompting.variables(),
            preview=preview,
            preview_errors=preview_errors,
        ),
        status,
    )


def _form_tenant(form: ClientForm) -> dict[str, Any]:
    """A best-effort tenant dict from the (possibly invalid) form, for the preview."""
    return {
        "slug": form.slug,
        "name": form.name,
        "greeting": form.greeting,
        "questions": [q for q in form.questions if q.get("text")],
        "faq": [f for f in form.faq if f.get("question") and f.get("answer")],
        "zones": [z.strip() for z in form.zones.splitlines() if z.strip()],
        "premium_zones": [z.strip() for z in form.premium_zones.splitlines() if z.strip()],
        "vocabulary": [z.strip() for z in form.vocabulary.splitlines() if z.strip()],
        "transfer_number": form.transfer_number,
        "timezone": form.timezone,
        "business_hours": {},
        "holidays": [],
        "voice": {},
        "settings": {},
        "numbers": [n.strip() for n in form.numbers.splitlines() if n.strip()],
    }


def _save(form: ClientForm, tenant_id: int | None) -> tuple[int | None, dict[str, str]]:
    """Validate and save in one transaction with its audit entry; nothing on error."""
    services = current_services()
    prompt_errors = prompting.validate(form.prompt_template) if form.prompt_template else []
    with services.db.session() as s:
        tenant = get_or_404(s, Tenant, tenant_id, Tenant.id) if tenant_id is not None else None
        if tenant is not None:
            form.slug = tenant.slug
        data, errors = validate(
            form,
            new=tenant is None,
            prompt_errors=prompt_errors,
            delivery_parser=_delivery_parser(),
            existing_settings=dict(tenant.settings or {}) if tenant else None,
        )
        slug_taken = (
            tenant is None
            and not errors.get("slug")
            and s.scalar(select(Tenant.id).where(Tenant.slug == form.slug)) is not None
        )
        if slug_taken:
            errors["slug"] = _("This short name is already used by another client.")
        if errors:
            return None, errors
        try:
            spec = parse_spec(data)
        except TenantError as exc:  # the shared rules, should the form miss one
            return None, {exc.field or "name": str(exc)}
        before = tenant_to_dict(tenant) if tenant is not None else None
        try:
            with s.begin_nested():
                new_id = services.tenants.upsert(spec, s)
        except TenantError as exc:
            if exc.field == "numbers":
                m = _DID_IN_MESSAGE.search(str(exc))
                number = m.group(1) if m else ""
                # Never name the other agency: that would leak another tenant's data.
                return None, {
                    "numbers": _(
                        "The number %(number)s already belongs to another client.", number=number
                    )
                }
            return None, {exc.field or "name": str(exc)}
        except IntegrityError:  # a concurrent save took the same DID or slug
            return None, {"numbers": _("One of these numbers already belongs to another client.")}
        saved = s.get(Tenant, new_id)
        assert saved is not None
        saved.active = form.active
        s.flush()
        s.refresh(saved)
        services.accounts.audit(
            s,
            current_user,
            "tenant.create" if tenant is None else "tenant.update",
            "tenant",
            str(new_id),
            tenant_id=new_id,
            before=before,
            after=tenant_to_dict(saved),
            ip=client_ip(),
        )
        return new_id, {}


@bp.route("/new", methods=["GET", "POST"])
@require_role(Role.INSTALLATION_ADMIN)
def new() -> Any:
    if request.method == "POST":
        form = ClientForm.from_request(request.form)
        tenant_id, errors = _save(form, None)
        if not errors:
            flash(_("Client created."), "success")
            return redirect(url_for("clients.edit", tenant_id=tenant_id))
        return _render_editor(form, errors, None)
    form = ClientForm(
        prompt_template=DEFAULT_PROMPT_TEMPLATE,
        questions=[dict(q) for q in DEFAULT_QUESTIONS],
        hours={d: format_ranges(DEFAULT_BUSINESS_HOURS.get(d, [])) for d in DAYS},
    )
    return _render_editor(form, {}, None)


@bp.route("/<int:tenant_id>", methods=["GET", "POST"])
@require_role(*ADMINS)
def edit(tenant_id: int) -> Any:
    services = current_services()
    if request.method == "POST":
        form = ClientForm.from_request(request.form)
        if current_user.role != Role.INSTALLATION_ADMIN:
            # Only the installation admin switches an agency on or off.
            with services.db.session() as s:
                form.active = bool(get_or_404(s, Tenant, tenant_id, Tenant.id).active)
        saved_id, errors = _save(form, tenant_id)
        if not errors:
            flash(_("Changes saved."), "success")
            return redirect(url_for("clients.edit", tenant_id=saved_id))
        with services.db.session() as s:
            tenant = get_or_404(s, Tenant, tenant_id, Tenant.id)
        return _render_editor(form, errors, tenant)
    with services.db.session() as s:
        tenant = get_or_404(s, Tenant, tenant_id, Tenant.id)
        s.refresh(tenant, ["numbers"])
        form = ClientForm.from_tenant(tenant)
    return _render_editor(form, {}, tenant)


@bp.route("/preview", methods=["POST"])
@require_role(*ADMINS)
def preview() -> Response:
    """Render the prompt template being edited (JSON: text + errors, both plain text)."""
    form = ClientForm.from_request(request.form)
    if len(form.prompt_template) > LIMITS["prompt_template"]:
        return jsonify(
            text="",
            errors=[_("At most %(limit)s characters.", limit=LIMITS["prompt_template"])],
        )
    text, errors = prompting.preview(form.prompt_template, _form_tenant(form))
    return jsonify(text=text, errors=errors)
