"""Asterisk (installation admin only): rendered config, trunk, check and reload.

Rendering, validation and reload with rollback belong to ``centralino.asterisk``
(``manage.validate`` / ``manage.reload``, the same code as ``centralino asterisk
check`` / ``reload``); this page calls them and shows the result. Secrets are
masked before anything reaches the page.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, abort, render_template
from flask_babel import gettext as _
from flask_login import current_user

from admin_web.auth import client_ip
from admin_web.scoping import require_role
from admin_web.services import current_services
from centralino.accounts.service import Role
from centralino.asterisk import manage
from centralino.asterisk.render import render
from centralino.asterisk.settings import AsteriskSettings, layout_for, load_settings

bp = Blueprint("asterisk_admin", __name__, url_prefix="/asterisk", template_folder="templates")

SECRET_FIELDS = ("ari_password", "ami_secret", "trunk_password", "softphone_password")
MASK = "••••••"


def mask(text: str, secrets: list[str]) -> str:
    """Hide every secret value (and password/secret lines) in ``text``."""
    for value in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return manage.redact(text)


def _secrets(settings: AsteriskSettings) -> list[str]:
    values = [str(getattr(settings, f, "")) for f in SECRET_FIELDS]
    from centralino.asterisk.render import _vm_password

    return [*values, _vm_password(settings)]


def _state() -> dict[str, Any]:
    config = current_services().config
    state: dict[str, Any] = {"settings": None, "files": {}, "error": "", "secrets": []}
    try:
        settings = load_settings(config)
    except Exception as exc:  # ConfigError names the missing setting and its variable
        state["error"] = str(exc)
        return state
    secrets = _secrets(settings)
    fields = []
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.name in SECRET_FIELDS:
            value = MASK if value else ""
        fields.append((f.name, value))
    state.update(settings=fields, secrets=secrets)
    state["trunk_fields"] = [(k, v) for k, v in fields if k.startswith("trunk_")]
    try:
        # Plain render (no side effects): what `centralino asterisk render` would write.
        rendered = render(settings, layout_for(config, settings))
        state["files"] = {name: mask(text, secrets) for name, text in rendered.files.items()}
    except Exception as exc:
        state["error"] = str(exc)
    return state


@bp.route("/")
@require_role(Role.INSTALLATION_ADMIN)
def index() -> str:
    return render_template("asterisk_admin/index.html", state=_state(), result=None)


@bp.route("/<action>", methods=["POST"])
@require_role(Role.INSTALLATION_ADMIN)
def run(action: str) -> Any:
    if action not in ("check", "reload"):
        abort(404)
    services = current_services()
    state = _state()
    if state["settings"] is None:
        return render_template("asterisk_admin/index.html", state=state, result=None), 422
    settings = load_settings(services.config)
    layout = layout_for(services.config, settings)
    secrets = state["secrets"]
    lines: list[str] = []
    if action == "check":
        check = manage.validate(settings, layout)
        ok = check.ok
        lines += [_("error") + ": " + e for e in check.errors]
        lines += [_("warning") + ": " + w for w in check.warnings]
        if check.changed:
            lines.append(_("Changed files: %(files)s", files=", ".join(check.changed)))
        diff = check.diff
        message = _("Configuration valid.") if ok else _("Configuration refused.")
    else:
        result = manage.reload(settings, layout)
        ok = not result.errors
        lines += [_("error") + ": " + e for e in result.errors]
        diff = result.check.diff
        message = result.message
        if result.rolled_back:
            lines.append(_("The previous configuration was restored and is serving calls."))
        with services.db.session() as s:
            services.accounts.audit(
                s,
                current_user,
                "asterisk.reload",
                "asterisk",
                layout.instance,
                after={
                    "applied": result.applied,
                    "rolled_back": result.rolled_back,
                    "changed": result.check.changed,
                },
                ip=client_ip(),
                note=mask("\n".join([message, *lines]), secrets)[:4000],
            )
    outcome = {
        "ok": ok,
        "message": mask(message, secrets),
        "details": mask("\n".join(lines), secrets),
        "diff": mask(diff or "", secrets),
    }
    return render_template(
        "asterisk_admin/index.html", state=state, result=outcome, action=action
    ), (200 if ok else 422)
