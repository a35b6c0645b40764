"""Asterisk (installation admin only): rendered config, trunk, check and reload.

Rendering, validation and reload with rollback belong to ``centralino.asterisk``
(the same code as ``centralino asterisk check`` / ``reload``); this page only
calls it and shows the result. Secrets are masked before anything is shown.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from admin_web.auth import client_ip
from admin_web.scoping import require_role
from admin_web.services import current_services, optional_module
from centralino.accounts.service import Role

bp = Blueprint("asterisk_admin", __name__, url_prefix="/asterisk", template_folder="templates")

SECRET_FIELDS = ("ari_password", "ami_secret", "trunk_password", "softphone_password")
MASK = "••••••"


def _operations() -> Any | None:
    """The module offering ``check(config)`` and ``reload(config)``, if installed."""
    for name in ("centralino.asterisk.apply", "centralino.asterisk.manage"):
        module = optional_module(name)
        if module is not None and hasattr(module, "check") and hasattr(module, "reload"):
            return module
    return None


def _mask(text: str, secrets_: list[str]) -> str:
    for value in sorted({s for s in secrets_ if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def _state() -> dict[str, Any]:
    config = current_services().config
    state: dict[str, Any] = {"settings": None, "files": {}, "error": ""}
    settings_mod = optional_module("centralino.asterisk.settings")
    render_mod = optional_module("centralino.asterisk.render")
    if settings_mod is None or render_mod is None:
        state["error"] = _("The Asterisk module is not installed.")
        return state
    try:
        settings = settings_mod.load_settings(config)
    except Exception as exc:  # ConfigError and friends: show them, they name the setting
        state["error"] = str(exc)
        return state
    secrets_ = [str(getattr(settings, f, "")) for f in SECRET_FIELDS]
    if hasattr(render_mod, "_vm_password"):
        secrets_.append(render_mod._vm_password(settings))
    fields = []
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.name in SECRET_FIELDS:
            value = MASK if value else ""
        fields.append((f.name, value))
    state["settings"] = fields
    state["trunk_fields"] = [(k, v) for k, v in fields if k.startswith("trunk_")]
    try:
        layout = settings_mod.layout_for(config, settings)
        rendered = render_mod.render(settings, layout)
        state["files"] = {name: _mask(text, secrets_) for name, text in rendered.files.items()}
    except Exception as exc:
        state["error"] = str(exc)
    state["secrets"] = secrets_
    return state


@bp.route("/")
@require_role(Role.INSTALLATION_ADMIN)
def index() -> str:
    return render_template(
        "asterisk_admin/index.html",
        state=_state(),
        operations=_operations() is not None,
        result=None,
    )


@bp.route("/<action>", methods=["POST"])
@require_role(Role.INSTALLATION_ADMIN)
def run(action: str) -> Any:
    if action not in ("check", "reload"):
        return render_template("error.html", code=404), 404
    ops = _operations()
    state = _state()
    if ops is None:
        result = {"ok": False, "output": _("Check and reload are not available.")}
    else:
        services = current_services()
        try:
            output = getattr(ops, action)(services.config)
            result = {"ok": True, "output": str(output or _("Done."))}
        except Exception as exc:  # refused config: shown with the reason, nothing changed
            result = {"ok": False, "output": str(exc)}
        if action == "reload":
            with services.db.session() as s:
                services.accounts.audit(
                    s,
                    current_user,
                    "asterisk.reload",
                    "asterisk",
                    "",
                    after={"ok": result["ok"]},
                    ip=client_ip(),
                    note=_mask(result["output"], state.get("secrets", []))[:2000],
                )
    result["output"] = _mask(str(result["output"]), state.get("secrets", []))
    return render_template(
        "asterisk_admin/index.html",
        state=state,
        operations=ops is not None,
        result=result,
        action=action,
        method=request.method,
    ), (200 if result["ok"] else 422)
