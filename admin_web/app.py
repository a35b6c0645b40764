"""Flask application factory for the web admin.

``create_app(config, services=None)`` builds the app; one blueprint per area
(auth, dashboard, clients, calls, test calls, users, audit, Asterisk).

Extension hook for other areas: after registering its own blueprints the
factory imports ``admin_web.api`` and ``admin_web.analytics`` if they exist
and calls their ``register(app, services)`` (or registers their module-level
``bp``). Such a module may append ``NavItem``s to
``app.extensions["centralino_nav"]`` and, for token-authenticated endpoints,
add its blueprint name to ``app.extensions["centralino_public_blueprints"]``
(skips the login redirect) and exempt it from CSRF with
``app.extensions["csrf"].exempt(bp)``. Everything else requires a login.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask, Response, redirect, render_template, request, url_for
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup

from admin_web.i18n import LANGUAGES, fmt_dt, select_locale
from admin_web.labels import template_globals
from admin_web.services import Services, build_services, optional_module
from admin_web.settings import AdminSettings
from centralino.accounts.models import User
from centralino.accounts.service import RateLimit, Role
from centralino.config import Config

log = logging.getLogger(__name__)

PACKAGE_DIR = __import__("pathlib").Path(__file__).resolve().parent
EXTENSION_MODULES = ("admin_web.api", "admin_web.analytics")
ALWAYS_PUBLIC_ENDPOINTS = {"auth.login", "static"}


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any  # a lazy_gettext string
    # Roles that see the link (empty: everybody logged in).
    roles: tuple[str, ...] = ()


class WebUser(UserMixin):
    """The logged-in user as Flask-Login sees it (a detached copy of the row)."""

    def __init__(self, user: User) -> None:
        self.id = user.id
        self.email = user.email
        self.role = user.role
        self.tenant_id = user.tenant_id
        self.language = user.language or ""

    @property
    def is_installation_admin(self) -> bool:
        return self.role == Role.INSTALLATION_ADMIN

    @property
    def is_admin(self) -> bool:
        return self.role in (Role.INSTALLATION_ADMIN, Role.AGENCY_ADMIN)


def _nav() -> list[NavItem]:
    admins = (Role.INSTALLATION_ADMIN.value, Role.AGENCY_ADMIN.value)
    return [
        NavItem("dashboard.index", _l("Dashboard")),
        NavItem("clients.index", _l("Clients")),
        NavItem("calls.index", _l("Call log")),
        NavItem("testcalls.index", _l("Test calls")),
        NavItem("deliveries.index", _l("Deliveries"), admins),
        NavItem("users.index", _l("Users"), admins),
        NavItem("audit.index", _l("Audit log"), admins),
        NavItem("asterisk_admin.index", _l("Asterisk"), (Role.INSTALLATION_ADMIN.value,)),
    ]


def create_app(config: Config, services: Services | None = None) -> Flask:
    settings = config.require("admin", AdminSettings)
    if services is None:
        services = build_services(
            config,
            rate_limit=RateLimit(
                window=timedelta(minutes=settings.login_window_minutes),
                max_failures_per_email=settings.login_max_failures_per_email,
                max_failures_per_ip=settings.login_max_failures_per_ip,
            ),
        )
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="centralino_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        # The CSRF token lives as long as the session it is bound to.
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        BABEL_DEFAULT_LOCALE="it",
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
        BABEL_TRANSLATION_DIRECTORIES=str(PACKAGE_DIR / "translations"),
        ADMIN_SETTINGS=settings,
    )
    app.extensions["centralino"] = services
    app.extensions["centralino_nav"] = _nav()
    app.extensions["centralino_public_blueprints"] = set()

    CSRFProtect(app)
    Babel(app, locale_selector=select_locale)
    login = LoginManager(app)
    login.login_view = "auth.login"
    login.login_message = _l("Please log in to see this page.")
    login.session_protection = "basic"

    @login.user_loader
    def load_user(user_id: str) -> WebUser | None:
        try:
            user = services.accounts.get(int(user_id))
        except ValueError:
            return None
        return WebUser(user) if user is not None and user.active else None

    from admin_web.asterisk_admin import bp as asterisk_bp
    from admin_web.audit import bp as audit_bp
    from admin_web.auth import bp as auth_bp
    from admin_web.calls import bp as calls_bp
    from admin_web.clients import bp as clients_bp
    from admin_web.dashboard import bp as dashboard_bp
    from admin_web.deliveries import bp as deliveries_bp
    from admin_web.testcalls import bp as testcalls_bp
    from admin_web.users import bp as users_bp

    for bp in (
        auth_bp,
        dashboard_bp,
        clients_bp,
        deliveries_bp,
        calls_bp,
        testcalls_bp,
        users_bp,
        audit_bp,
        asterisk_bp,
    ):
        app.register_blueprint(bp)

    for name in EXTENSION_MODULES:
        module = optional_module(name)
        if module is None:
            continue
        if hasattr(module, "register"):
            module.register(app, services)
        elif hasattr(module, "bp"):
            app.register_blueprint(module.bp)
        log.info("admin extension %s registered", name)

    @app.before_request
    def require_login() -> Any:
        # Default deny: every endpoint needs a logged-in user unless listed public.
        endpoint = request.endpoint or ""
        if endpoint in ALWAYS_PUBLIC_ENDPOINTS:
            return None
        if request.blueprint in app.extensions["centralino_public_blueprints"]:
            return None
        if not current_user.is_authenticated:
            if request.method == "GET" and endpoint:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            return render_template("error.html", code=401), 401
        return None

    @app.after_request
    def security_headers(response: Response) -> Response:
        # No inline scripts anywhere: the CSP blocks any injected <script>.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "media-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if current_user and current_user.is_authenticated:
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int]:
        return render_template("error.html", code=400, message=exc.description), 400

    for code in (400, 401, 403, 404, 405, 413, 429):

        @app.errorhandler(code)
        def http_error(exc: Any, code: int = code) -> tuple[str, int]:
            return render_template("error.html", code=code), code

    @app.context_processor
    def inject() -> dict[str, Any]:
        role = current_user.role if current_user and current_user.is_authenticated else None
        nav = [
            item
            for item in app.extensions["centralino_nav"]
            if role
            and (not item.roles or role in item.roles)
            and item.endpoint in app.view_functions
        ]
        return {
            "nav_items": nav,
            "languages": LANGUAGES,
            "get_locale": get_locale,
            **template_globals(),
        }

    app.jinja_env.filters["dt"] = fmt_dt
    app.jinja_env.filters["nl2br"] = lambda text: Markup("<br>").join((text or "").splitlines())

    app.teardown_appcontext(lambda exc: None)
    return app


def services_of(app: Flask) -> Services:
    return app.extensions["centralino"]
