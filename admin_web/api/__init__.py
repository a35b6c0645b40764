"""Public REST API under ``/api/v1`` (per-tenant API keys, JSON in and out).

``register(app, services)`` is called by ``admin_web.app.create_app``. The
blueprint is public (no login redirect), CSRF-exempt (keys, not cookies) and
answers every error as ``{"error": {"code", "message", "field"}}``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from admin_web.api.errors import error_response
from admin_web.api.ratelimit import ApiSettings, RateLimiter

log = logging.getLogger(__name__)


def _wants_api() -> bool:
    return request.path == "/api/v1" or request.path.startswith("/api/v1/")


def register(app: Flask, services: Any) -> None:
    from admin_web.analytics import domain
    from admin_web.api.keys import bp as keys_bp
    from admin_web.api.views import bp
    from admin_web.app import NavItem

    # The key management page is an ordinary admin page (login, CSRF, roles).
    app.register_blueprint(keys_bp)
    app.extensions.setdefault("centralino_nav", []).append(
        NavItem(
            "apikeys.index", domain.lazy_gettext("API keys"), ("installation_admin", "agency_admin")
        )
    )

    settings = services.config.section("api", ApiSettings)
    app.extensions["centralino_api_limiter"] = RateLimiter(settings.rate_per_minute, settings.burst)
    app.register_blueprint(bp)
    app.extensions.setdefault("centralino_public_blueprints", set()).add(bp.name)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)

    @app.before_request
    def api_routing_error() -> Any:
        # An /api/v1 URL that matched no route (404) or not this method (405)
        # belongs to no blueprint, so the admin's login check would answer it
        # with an HTML page. Registered before that check: answer in JSON here.
        exc = request.routing_exception
        if _wants_api() and isinstance(exc, HTTPException) and exc.code and exc.code >= 400:
            return error_response(exc.code, exc.description or exc.name)
        return None

    # HTTP errors under /api/v1 (unrouted method 405, body too large 413, aborts)
    # would otherwise reach the admin's HTML error pages, which take precedence
    # over any class-based handler: answer them in JSON before Flask looks.
    html_handler = app.handle_http_exception

    def handle_http_exception(exc: HTTPException) -> Any:
        if _wants_api() and exc.code is not None and exc.code >= 400:
            return error_response(exc.code, exc.description or exc.name)
        return html_handler(exc)

    app.handle_http_exception = handle_http_exception  # type: ignore[method-assign,assignment]
