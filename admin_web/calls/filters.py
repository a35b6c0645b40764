"""Call log filters, shared by the page and the CSV export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select
from werkzeug.datastructures import MultiDict

from admin_web.scoping import scoped
from centralino.calls.models import Call, Turn
from centralino.leads.models import Lead
from centralino.tenants.models import Tenant

OUTCOMES = (
    "in_progress",
    "completed",
    "lead",
    "unknown_did",
    "abandoned",
    "transferred",
    "voicemail",
    "failed",
)
# Lead score bands (score 0..100).
QUALITY_BANDS: dict[str, tuple[int, int]] = {"high": (70, 100), "medium": (40, 69), "low": (0, 39)}
PAGE_SIZE = 25
MAX_TEXT = 200


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _int(value: str) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class CallFilters:
    date_from: date | None = None
    date_to: date | None = None
    tenant_id: int | None = None
    outcome: str = ""
    quality: str = ""
    caller: str = ""
    text: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: MultiDict[str, str]) -> CallFilters:
        outcome = args.get("outcome", "")
        quality = args.get("quality", "")
        return cls(
            date_from=_date(args.get("from", "")),
            date_to=_date(args.get("to", "")),
            tenant_id=_int(args.get("tenant", "")),
            outcome=outcome if outcome in OUTCOMES else "",
            quality=quality if quality in (*QUALITY_BANDS, "none") else "",
            caller=args.get("caller", "").strip()[:MAX_TEXT],
            text=args.get("q", "").strip()[:MAX_TEXT],
            page=max(1, _int(args.get("page", "")) or 1),
        )

    def query_args(self, page: int | None = None) -> str:
        values: dict[str, Any] = {
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "tenant": self.tenant_id or "",
            "outcome": self.outcome,
            "quality": self.quality,
            "caller": self.caller,
            "q": self.text,
        }
        if page is not None:
            values["page"] = page
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filtered_calls(f: CallFilters, zone: ZoneInfo) -> Select[Any]:
    """Calls (with tenant name and lead) matching ``f``, within the user's tenant."""
    stmt = (
        select(Call, Tenant.name, Lead)
        .outerjoin(Tenant, Call.tenant_id == Tenant.id)
        .outerjoin(Lead, Lead.call_id == Call.id)
    )
    stmt = scoped(stmt, Call.tenant_id)
    if f.date_from:
        stmt = stmt.where(
            Call.started_at >= datetime.combine(f.date_from, time(), zone).astimezone(UTC)
        )
    if f.date_to:
        end = datetime.combine(f.date_to + timedelta(days=1), time(), zone).astimezone(UTC)
        stmt = stmt.where(Call.started_at < end)
    if f.tenant_id is not None:
        stmt = stmt.where(Call.tenant_id == f.tenant_id)
    if f.outcome:
        stmt = stmt.where(Call.outcome == f.outcome)
    if f.quality == "none":
        stmt = stmt.where(or_(Lead.id.is_(None), Lead.score.is_(None)))
    elif f.quality:
        low, high = QUALITY_BANDS[f.quality]
        stmt = stmt.where(and_(Lead.score >= low, Lead.score <= high))
    if f.caller:
        pattern = _like(f.caller)
        stmt = stmt.where(
            or_(
                Call.caller_id.ilike(pattern, escape="\\"),
                Call.caller_name.ilike(pattern, escape="\\"),
            )
        )
    if f.text:
        stmt = stmt.where(
            Call.id.in_(select(Turn.call_id).where(Turn.text.ilike(_like(f.text), escape="\\")))
        )
    return stmt.order_by(Call.started_at.desc(), Call.id)


def count_of(stmt: Select[Any]) -> Select[Any]:
    return select(func.count()).select_from(stmt.order_by(None).subquery())


def quality_of(score: int | None) -> str:
    if score is None:
        return ""
    for band, (low, high) in QUALITY_BANDS.items():
        if low <= score <= high:
            return band
    return ""
