"""Request parsing for the API: every problem names its field, nothing is guessed.

Query strings: unknown parameters are refused (a typo must not silently return
everything). JSON bodies: must be objects, unknown keys refused, types checked
strictly (``"5"`` is not an integer, ``1`` is not a boolean).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Request

from admin_web.api.errors import ApiError
from centralino.tenants.phone import InvalidPhoneNumber, normalize_e164

MAX_PER_PAGE = 100


class Query:
    def __init__(self, request: Request, allowed: set[str]) -> None:
        self.args = request.args
        for key in self.args:
            if key not in allowed:
                raise ApiError(400, f"unknown query parameter '{key}'", key)
        for key in allowed:
            if len(self.args.getlist(key)) > 1:
                raise ApiError(400, f"'{key}' given more than once", key)

    def text(self, key: str, max_len: int = 100) -> str | None:
        value = self.args.get(key)
        if value is None:
            return None
        if len(value) > max_len:
            raise ApiError(400, f"'{key}' is longer than {max_len} characters", key)
        return value

    def integer(self, key: str, default: int | None, lo: int, hi: int) -> int | None:
        raw = self.args.get(key)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"'{key}' must be an integer", key) from None
        if not lo <= value <= hi:
            raise ApiError(400, f"'{key}' must be between {lo} and {hi}", key)
        return value

    def boolean(self, key: str, default: bool | None) -> bool | None:
        raw = self.args.get(key)
        if raw is None:
            return default
        if raw in ("true", "1"):
            return True
        if raw in ("false", "0"):
            return False
        raise ApiError(400, f"'{key}' must be true or false", key)

    def day(self, key: str) -> date | None:
        raw = self.args.get(key)
        if raw is None:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ApiError(400, f"'{key}' must be a date YYYY-MM-DD", key) from None

    def phone(self, key: str) -> str | None:
        raw = self.args.get(key)
        if raw is None:
            return None
        try:
            return normalize_e164(raw[:40])
        except InvalidPhoneNumber:
            raise ApiError(
                400, f"'{key}' is not a valid phone number (+390212345678)", key
            ) from None

    def choice(self, key: str, options: tuple[str, ...]) -> str | None:
        raw = self.args.get(key)
        if raw is None:
            return None
        if raw not in options:
            raise ApiError(400, f"'{key}' must be one of {', '.join(options)}", key)
        return raw

    def page(self) -> tuple[int, int]:
        page = self.integer("page", 1, 1, 100_000)
        per_page = self.integer("per_page", 50, 1, MAX_PER_PAGE)
        assert page is not None and per_page is not None
        return page, per_page


def json_object(request: Request, allowed: set[str]) -> dict[str, Any]:
    if not request.is_json:
        raise ApiError(415, "send a JSON body with Content-Type: application/json")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ApiError(400, f"unknown field '{unknown[0]}'", unknown[0])
    return data


def string(data: dict[str, Any], key: str, max_len: int, *, required: bool = False) -> str | None:
    if key not in data:
        if required:
            raise ApiError(400, f"'{key}' is required", key)
        return None
    value = data[key]
    if not isinstance(value, str):
        raise ApiError(400, f"'{key}' must be a string", key)
    if len(value) > max_len:
        raise ApiError(422, f"'{key}' is longer than {max_len} characters", key)
    return value


def string_list(
    data: dict[str, Any], key: str, *, max_items: int, max_len: int, min_items: int = 0
) -> list[str] | None:
    if key not in data:
        return None
    value = data[key]
    if not isinstance(value, list):
        raise ApiError(400, f"'{key}' must be a list of strings", key)
    if not min_items <= len(value) <= max_items:
        raise ApiError(422, f"'{key}' must have {min_items} to {max_items} items", key)
    for i, item in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(item, str):
            raise ApiError(400, f"'{where}' must be a string", where)
        if len(item) > max_len:
            raise ApiError(422, f"'{where}' is longer than {max_len} characters", where)
    return list(value)


def boolean(data: dict[str, Any], key: str, default: bool) -> bool:
    if key not in data:
        return default
    value = data[key]
    if not isinstance(value, bool):
        raise ApiError(400, f"'{key}' must be true or false", key)
    return value
