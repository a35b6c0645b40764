"""Chat simulator sessions: the phone's dialogue engine driven by typed text.

Each session holds one Dialogue object (from ``make_dialogue``) in memory and
runs its coroutines on the app's :class:`AsyncRunner` loop. The conversation
is stored as a simulated call (``Call.simulated``) so it can be reopened in
the call log; no Lead row is written, so a test never reaches the agency's
WhatsApp or CRM.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

SESSION_TTL_S = 30 * 60
MAX_SESSIONS = 200
MAX_TEXT = 500


@dataclass
class ChatSession:
    token: str
    tenant_id: int
    user_id: int
    dialogue: Any
    call_id: str
    created: float = field(default_factory=time.monotonic)
    touched: float = field(default_factory=time.monotonic)
    ended: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class ChatRegistry:
    """In-memory sessions, looked up by (token, tenant): another tenant's token is unknown."""

    def __init__(self) -> None:
        self._sessions: dict[str, ChatSession] = {}
        self._lock = threading.Lock()

    def add(self, session: ChatSession) -> None:
        with self._lock:
            self._expire()
            if len(self._sessions) >= MAX_SESSIONS:
                oldest = min(self._sessions.values(), key=lambda c: c.touched)
                self._sessions.pop(oldest.token, None)
            self._sessions[session.token] = session

    def get(self, token: str, tenant_id: int) -> ChatSession | None:
        with self._lock:
            self._expire()
            found = self._sessions.get(token)
            if found is None or found.tenant_id != tenant_id:
                return None
            found.touched = time.monotonic()
            return found

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, c in self._sessions.items() if now - c.touched > SESSION_TTL_S]:
            self._sessions.pop(token, None)

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(16)


_DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def in_business_hours(tenant: dict[str, Any], now: datetime | None = None) -> bool:
    """Whether ``now`` falls in the tenant's opening hours (its own time zone)."""
    try:
        zone = ZoneInfo(tenant.get("timezone") or "Europe/Rome")
    except Exception:
        zone = ZoneInfo("Europe/Rome")
    local = (now or datetime.now(UTC)).astimezone(zone)
    if local.date().isoformat() in set(tenant.get("holidays") or []):
        return False
    hhmm = local.strftime("%H:%M")
    ranges = (tenant.get("business_hours") or {}).get(_DAY_KEYS[local.weekday()], [])
    return any(start <= hhmm < end for start, end in ranges)


def today_iso() -> str:
    return date.today().isoformat()
