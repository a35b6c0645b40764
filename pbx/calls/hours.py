"""Business hours of a tenant: open or closed at a given instant.

``business_hours`` maps weekday keys ("mon".."sun") to lists of
``["HH:MM", "HH:MM"]`` ranges in the tenant's timezone; ``holidays`` lists
ISO dates ("2026-12-25") when the agency is closed all day. A day missing from
the map is closed. Malformed ranges are skipped with a warning (a typo in one
range must not close the agency for the whole week).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse_hhmm(text: Any) -> time:
    hh, mm = str(text).strip().split(":")
    hour, minute = int(hh), int(mm)
    if hour == 24 and minute == 0:
        return time(23, 59, 59, 999999)
    return time(hour, minute)


def is_open(
    business_hours: Mapping[str, Any] | None,
    holidays: Iterable[str] | None,
    timezone: str,
    now: datetime | None = None,
) -> bool:
    """True when ``now`` (default: the current time) falls inside the opening hours."""
    try:
        tz = ZoneInfo(timezone or "Europe/Rome")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown timezone %r; using Europe/Rome", timezone)
        tz = ZoneInfo("Europe/Rome")
    local = (now or datetime.now(UTC)).astimezone(tz)
    if local.date().isoformat() in {str(h).strip() for h in holidays or ()}:
        return False
    ranges = (business_hours or {}).get(DAYS[local.weekday()]) or []
    current = local.time().replace(tzinfo=None)
    for item in ranges:
        try:
            start, end = (_parse_hhmm(x) for x in item)
        except (TypeError, ValueError):
            log.warning("ignoring malformed business-hours range %r", item)
            continue
        if start <= current < end:
            return True
    return False
