"""What a sender reports when a delivery attempt fails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


class SendError(Exception):
    """A failed attempt.

    ``message`` is the provider's own message where there is one (the admin shows
    it). ``retryable`` False means retrying cannot help (bad credential, invalid
    request, missing secret): the row goes straight to the dead letters.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class MissingSecret(SendError):
    """A secret the target needs is not configured; the message names where to set it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass(frozen=True)
class SendResult:
    # Provider id of what was created/updated (wamid, CRM id, Message-ID).
    external_id: str = ""
    # The target recognised the idempotency key and did not act twice.
    deduplicated: bool = False


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify_http(status: int) -> bool:
    """Whether an HTTP failure status is worth retrying."""
    return status in (408, 409, 423, 425, 429) or status >= 500
