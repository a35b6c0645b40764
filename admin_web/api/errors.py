"""JSON errors with one stable shape: ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

# HTTP status -> stable machine-readable code.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, field: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.code = code or CODES.get(status, "error")
        self.headers: dict[str, str] = {}


def error_response(
    status: int, message: str, field: str | None = None, code: str | None = None, **headers: Any
) -> Response:
    body = {
        "error": {"code": code or CODES.get(status, "error"), "message": message, "field": field}
    }
    response = jsonify(body)
    response.status_code = status
    for key, value in headers.items():
        response.headers[key.replace("_", "-")] = str(value)
    return response
