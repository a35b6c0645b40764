"""Italian by default, English on request (user setting or the browser's language)."""

from __future__ import annotations

from datetime import datetime

from flask import request
from flask_babel import format_datetime
from flask_login import current_user

LANGUAGES = ("it", "en")
DEFAULT_LANGUAGE = "it"


def select_locale() -> str:
    if current_user and current_user.is_authenticated and current_user.language in LANGUAGES:
        return str(current_user.language)
    best = request.accept_languages.best_match(LANGUAGES) if request else None
    return best or DEFAULT_LANGUAGE


def fmt_dt(value: datetime | None, fmt: str = "short") -> str:
    """A datetime in the admin's time zone (BABEL_DEFAULT_TIMEZONE) and language."""
    if value is None:
        return ""
    return str(format_datetime(value, fmt))
