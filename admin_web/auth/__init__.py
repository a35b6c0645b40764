"""Login, logout and the user's own profile (language, password)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from admin_web.i18n import LANGUAGES
from admin_web.services import current_services
from centralino.accounts.models import User
from centralino.accounts.passwords import password_problem, verify_password
from centralino.accounts.service import LoginRateLimited

bp = Blueprint("auth", __name__, template_folder="templates")


def client_ip() -> str:
    # The admin is served directly (no trusted proxy configured), so the socket
    # address is the only source that a client cannot forge.
    return request.remote_addr or ""


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: never redirect to another host after login."""
    if not target:
        return url_for("dashboard.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("dashboard.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    error = ""
    email = ""
    status = 200
    if request.method == "POST":
        email = request.form.get("email", "")
        password = request.form.get("password", "")
        try:
            user = current_services().accounts.authenticate(email, password, client_ip())
        except LoginRateLimited:
            error = _("Too many failed attempts. Try again in a few minutes.")
            status = 429
        else:
            if user is None:
                error = _("Wrong e-mail or password.")
                status = 401
            else:
                from admin_web.app import WebUser

                session.clear()  # a fresh session on login (no fixation)
                session.permanent = True
                login_user(WebUser(user))
                return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", error=error, email=email), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    logout_user()
    session.clear()
    flash(_("You have been logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile() -> Any:
    services = current_services()
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = request.form.get("form", "")
        with services.db.session() as s:
            user = s.get(User, current_user.id)
            assert user is not None
            if form == "language":
                language = request.form.get("language", "")
                if language not in ("", *LANGUAGES):
                    errors["language"] = _("Unknown language.")
                else:
                    before = {"language": user.language}
                    user.language = language
                    services.accounts.audit(
                        s,
                        current_user,
                        "user.language",
                        "user",
                        str(user.id),
                        tenant_id=user.tenant_id,
                        before=before,
                        after={"language": language},
                        ip=client_ip(),
                    )
                    current_user.language = language
                    flash(_("Language saved."), "success")
                    return redirect(url_for("auth.profile"))
            elif form == "password":
                current = request.form.get("current_password", "")
                new = request.form.get("new_password", "")
                if not verify_password(current, user.password_hash):
                    errors["current_password"] = _("The current password is wrong.")
                elif password_problem(new):
                    errors["new_password"] = _(
                        "The password must be between 10 and 200 characters."
                    )
                elif new != request.form.get("confirm_password", ""):
                    errors["confirm_password"] = _("The two passwords differ.")
        if form == "password" and not errors:
            services.accounts.set_password(current_user.id, request.form["new_password"])
            flash(_("Password changed."), "success")
            return redirect(url_for("auth.profile"))
    return render_template("auth/profile.html", errors=errors), 400 if errors else 200
