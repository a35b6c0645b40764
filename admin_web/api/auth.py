"""Bearer API keys and per-key rate limiting for the ``/api/v1`` blueprint."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from flask import current_app, g, request

from admin_web.api.errors import ApiError
from admin_web.api.ratelimit import RateLimiter
from admin_web.services import current_services
from centralino.apikeys.service import ApiKeyService

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ApiActor:
    """Who made a change through the API, for the audit log."""

    prefix: str
    id: Any = None

    @property
    def email(self) -> str:
        return f"API key {self.prefix}"


def _limiter() -> RateLimiter:
    return cast(RateLimiter, current_app.extensions["centralino_api_limiter"])


def require(scope: str) -> Callable[[F], F]:
    """The request needs ``Authorization: Bearer <key>`` with ``scope``."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError(401, "send the API key as 'Authorization: Bearer <key>'")
            key = ApiKeyService(current_services().db).authenticate(token.strip())
            if key is None:
                raise ApiError(401, "unknown or revoked API key")
            wait = _limiter().take(key.prefix)
            if wait > 0:
                err = ApiError(429, f"too many requests: retry in {wait:.1f} s")
                err.headers["Retry-After"] = str(max(1, round(wait + 0.5)))
                raise err
            if not key.allows(scope):
                raise ApiError(403, f"this API key lacks the '{scope}' scope")
            g.api_key = key
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate
