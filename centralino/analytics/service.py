"""Analytics computed in SQL, on SQLite and PostgreSQL alike.

Every function takes the tenant explicitly (a :class:`TenantContext`) and a
:class:`DateRange` of *local* calendar days in the tenant's time zone. The
database does the heavy lifting (one indexed range scan per query, grouped by
local hour or day); Python only folds a few thousand grouped rows.

Local time: PostgreSQL converts with ``timezone(tz, ts)``. SQLite has no time
zone database, so the UTC offsets in force during the range are computed here
with :mod:`zoneinfo` and applied with a ``CASE`` over the DST transitions.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, true

from centralino.analytics.costs import CostBreakdown, CostSettings, compute_costs, parse_costs
from centralino.calls.models import Call, Turn
from centralino.db.session import Database
from centralino.leads.models import Lead
from centralino.sentiment.models import CallSentiment

log = logging.getLogger(__name__)

MAX_RANGE_DAYS = 400
PERCENTILES = (50, 90, 95, 99)
SCORE_BANDS = (("0-24", 0, 24), ("25-49", 25, 49), ("50-74", 50, 74), ("75-100", 75, 100))
# (name, above, up to and including): the default scoring rule's tiers
# (> 300k, > 500k) plus a low tier. Budget = budget_max, else budget_min.
BUDGET_BANDS = (
    ("<= 150k", None, 150_000),
    ("150k-300k", 150_000, 300_000),
    ("300k-500k", 300_000, 500_000),
    ("> 500k", 500_000, None),
)
# Which providers count as an offline fallback, per kind, unless the tenant's
# settings["analytics"]["fallback_providers"] says otherwise. A name matches
# itself or its part before ":" ("offline:pico" -> "offline").
DEFAULT_FALLBACKS: dict[str, tuple[str, ...]] = {
    "stt": ("offline", "fallback"),
    "llm": ("rules", "offline", "fallback"),
    "tts": ("offline", "espeak", "pico", "fallback"),
}
# Question key -> predicate "the lead has it". Custom question keys have no
# lead column and are not checked.
_LEAD_FIELDS: dict[str, Any] = {
    "name": lambda: Lead.name != "",
    "phone": lambda: Lead.phone != "",
    "request_type": lambda: Lead.request_type != "",
    "property_type": lambda: Lead.property_type != "",
    "zone": lambda: Lead.zone != "",
    "budget": lambda: (Lead.budget_min.is_not(None)) | (Lead.budget_max.is_not(None)),
    "urgency": lambda: Lead.urgency != "",
    "callback_time": lambda: Lead.callback_time != "",
}


class AnalyticsError(ValueError):
    """Bad analytics input; ``field`` names it (``from``, ``to``, ``costs.x`` ...)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TenantContext:
    """What analytics needs to know about one tenant."""

    id: int
    timezone: str = "Europe/Rome"
    required_fields: tuple[str, ...] = ("name", "request_type", "zone")
    costs: CostSettings = field(default_factory=CostSettings)
    fallback_providers: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_FALLBACKS)
    )

    @classmethod
    def from_tenant(cls, tenant: Any) -> TenantContext:
        """Build from a ``Tenant`` row (or anything with the same attributes)."""
        questions = tenant.questions or []
        required = tuple(
            str(q.get("key")) for q in questions if isinstance(q, dict) and q.get("required")
        )
        settings = tenant.settings or {}
        fallbacks = dict(DEFAULT_FALLBACKS)
        custom = (settings.get("analytics") or {}).get("fallback_providers") or {}
        for kind, names in custom.items():
            if kind in fallbacks and isinstance(names, list):
                fallbacks[kind] = tuple(str(n) for n in names)
        return cls(
            id=tenant.id,
            timezone=tenant.timezone or "Europe/Rome",
            required_fields=required,
            costs=parse_costs(settings.get("costs")),
            fallback_providers=fallbacks,
        )

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise AnalyticsError(f"unknown time zone {self.timezone!r}", "timezone") from None


@dataclass(frozen=True)
class DateRange:
    """Local calendar days ``start`` .. ``end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise AnalyticsError("'to' is before 'from'", "to")
        if self.days > MAX_RANGE_DAYS:
            raise AnalyticsError(f"a range is at most {MAX_RANGE_DAYS} days", "to")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def utc_bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        lo = datetime.combine(self.start, time(0), tz).astimezone(UTC)
        hi = datetime.combine(self.end + timedelta(days=1), time(0), tz).astimezone(UTC)
        return lo, hi

    def each_day(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    @classmethod
    def parse(cls, start: str | None, end: str | None, *, default_days: int = 30) -> DateRange:
        """From ISO dates (API, admin filters); missing ones default to the last 30 days."""

        def one(value: str | None, name: str) -> date | None:
            if value is None or value == "":
                return None
            try:
                return date.fromisoformat(str(value))
            except ValueError:
                raise AnalyticsError(f"'{name}' must be a date YYYY-MM-DD", name) from None

        lo, hi = one(start, "from"), one(end, "to")
        if hi is None:
            hi = (lo + timedelta(days=default_days - 1)) if lo else datetime.now(UTC).date()
        if lo is None:
            lo = hi - timedelta(days=default_days - 1)
        return cls(lo, hi)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Percentiles:
    day: date
    metric: str
    count: int
    values: dict[str, float]


@dataclass
class Report:
    tenant_id: int
    start: date
    end: date
    calls: int
    answered: int
    avg_duration_s: float | None
    calls_by_hour: list[int]
    calls_by_day: list[tuple[date, int]]
    leads: int
    converted: int
    conversion_rate: float | None
    score_bands: dict[str, int]
    budget_bands: dict[str, int]
    zones: dict[str, int]
    urgency: dict[str, int]
    sentiment: dict[str, int]
    costs: CostBreakdown
    provider_usage: dict[str, dict[str, int]]
    fallback_share: dict[str, float | None]
    latency: list[Percentiles]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (dates as ISO strings)."""
        out = asdict(self)
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat()
        out["calls_by_day"] = [{"day": d.isoformat(), "calls": n} for d, n in self.calls_by_day]
        out["latency"] = [
            {"day": p.day.isoformat(), "metric": p.metric, "count": p.count, **p.values}
            for p in self.latency
        ]
        return out


# --------------------------------------------------------------------------- SQL helpers


def _offset_segments(tz: ZoneInfo, lo: datetime, hi: datetime) -> list[tuple[datetime, int]]:
    """[(segment_start_utc, offset_seconds)] covering [lo, hi): one per DST period."""
    segments: list[tuple[datetime, int]] = []
    t = lo
    step = timedelta(hours=1)
    while t < hi:
        off = t.astimezone(tz).utcoffset()
        seconds = int(off.total_seconds()) if off is not None else 0
        if not segments or segments[-1][1] != seconds:
            segments.append((t, seconds))
        t += step
    return segments or [(lo, 0)]


class _Local:
    """Builds "local hour bucket" / "local day" SQL for a timestamp column."""

    def __init__(self, dialect: str, tz: ZoneInfo, lo: datetime, hi: datetime) -> None:
        self.dialect = dialect
        self.tz = tz
        self.segments = _offset_segments(tz, lo, hi)

    def _sqlite_modifier(self, col: Any) -> ColumnElement[Any]:
        mods = [f"{off:+d} seconds" for _, off in self.segments]
        if len(mods) == 1:
            return literal(mods[0])
        whens = [(col < self.segments[i + 1][0], mods[i]) for i in range(len(self.segments) - 1)]
        return case(*whens, else_=literal(mods[-1]))

    def hour(self, col: Any) -> ColumnElement[Any]:
        """'YYYY-MM-DD HH' in local time."""
        if self.dialect == "postgresql":
            return func.to_char(func.timezone(self.tz.key, col), "YYYY-MM-DD HH24")
        return func.strftime("%Y-%m-%d %H", col, self._sqlite_modifier(col))

    def day(self, col: Any) -> ColumnElement[Any]:
        """'YYYY-MM-DD' in local time."""
        if self.dialect == "postgresql":
            return func.to_char(func.timezone(self.tz.key, col), "YYYY-MM-DD")
        return func.strftime("%Y-%m-%d", col, self._sqlite_modifier(col))


def _matches(provider: str, names: tuple[str, ...]) -> bool:
    return provider in names or provider.split(":", 1)[0] in names


# --------------------------------------------------------------------------- service


class AnalyticsService:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- building blocks (each one query) ----------------------------------

    def _prepare(self, tenant: TenantContext, rng: DateRange) -> tuple[datetime, datetime, _Local]:
        lo, hi = rng.utc_bounds(tenant.zone)
        return lo, hi, _Local(self.db.engine.dialect.name, tenant.zone, lo, hi)

    def _call_filter(
        self, tenant: TenantContext, lo: datetime, hi: datetime, include_simulated: bool
    ) -> ColumnElement[bool]:
        cond = and_(Call.tenant_id == tenant.id, Call.started_at >= lo, Call.started_at < hi)
        if not include_simulated:
            cond = and_(cond, Call.simulated.is_(False))
        return cond

    def _turn_filter(
        self, tenant: TenantContext, lo: datetime, hi: datetime, include_simulated: bool
    ) -> ColumnElement[bool]:
        cond = and_(Turn.tenant_id == tenant.id, Turn.at >= lo, Turn.at < hi)
        if not include_simulated:
            # Simulated calls are few: the database evaluates this list once.
            # A simulated call may have started up to a day before its turns.
            simulated = select(Call.id).where(
                Call.tenant_id == tenant.id,
                Call.simulated.is_(True),
                Call.started_at >= lo - timedelta(days=1),
                Call.started_at < hi,
            )
            cond = and_(cond, Turn.call_id.not_in(simulated))
        return cond

    def call_volume(
        self, tenant: TenantContext, rng: DateRange, include_simulated: bool = False
    ) -> dict[str, Any]:
        """Calls per local hour of day and per local day, answered count, average duration."""
        lo, hi, local = self._prepare(tenant, rng)
        bucket = local.hour(Call.started_at).label("bucket")
        stmt = (
            select(
                bucket,
                func.count().label("n"),
                func.count(Call.duration_s).label("answered"),
                func.coalesce(func.sum(Call.duration_s), 0.0).label("seconds"),
            )
            .where(self._call_filter(tenant, lo, hi, include_simulated))
            .group_by(bucket)
        )
        by_hour = [0] * 24
        by_day: dict[date, int] = {d: 0 for d in rng.each_day()}
        calls = answered = 0
        seconds = 0.0
        with self.db.session() as s:
            for b, n, ans, secs in s.execute(stmt):
                day = date.fromisoformat(b[:10])
                by_hour[int(b[11:13])] += n
                by_day[day] = by_day.get(day, 0) + n
                calls += n
                answered += ans
                seconds += float(secs or 0.0)
        return {
            "calls": calls,
            "answered": answered,
            "seconds": seconds,
            "avg_duration_s": round(seconds / answered, 2) if answered else None,
            "by_hour": by_hour,
            "by_day": sorted(by_day.items()),
        }

    def _required_condition(self, tenant: TenantContext) -> ColumnElement[bool]:
        conds = [_LEAD_FIELDS[k]() for k in tenant.required_fields if k in _LEAD_FIELDS]
        return and_(true(), *conds)

    def conversion(
        self, tenant: TenantContext, rng: DateRange, include_simulated: bool = False
    ) -> dict[str, int]:
        """Leads of calls in the range; converted = lead with every required field."""
        lo, hi, _ = self._prepare(tenant, rng)
        complete = self._required_condition(tenant)
        stmt = (
            select(
                func.count(Lead.id),
                func.coalesce(func.sum(case((complete, 1), else_=0)), 0),
            )
            .select_from(Lead)
            .join(Call, Call.id == Lead.call_id)
            .where(
                Lead.tenant_id == tenant.id, self._call_filter(tenant, lo, hi, include_simulated)
            )
        )
        with self.db.session() as s:
            leads, converted = s.execute(stmt).one()
        return {"leads": int(leads), "converted": int(converted or 0)}

    def lead_quality(
        self, tenant: TenantContext, rng: DateRange, include_simulated: bool = False
    ) -> dict[str, dict[str, int]]:
        """Leads created in the range by score band, budget band, zone and urgency."""
        lo, hi, _ = self._prepare(tenant, rng)
        score_band = case(
            *[(Lead.score.between(a, b), literal(name)) for name, a, b in SCORE_BANDS],
            else_=literal("unscored"),
        ).label("score_band")
        budget = func.coalesce(Lead.budget_max, Lead.budget_min)
        whens: list[tuple[ColumnElement[bool], Any]] = []
        for name, above, upto in BUDGET_BANDS:
            cond: ColumnElement[bool] = budget.is_not(None)
            if above is not None:
                cond = and_(cond, budget > above)
            if upto is not None:
                cond = and_(cond, budget <= upto)
            whens.append((cond, literal(name)))
        budget_band = case(*whens, else_=literal("unknown")).label("budget_band")
        where = and_(Lead.tenant_id == tenant.id, Lead.created_at >= lo, Lead.created_at < hi)
        stmt = select(score_band, budget_band, Lead.zone, Lead.urgency, func.count())
        if not include_simulated:
            stmt = stmt.outerjoin(Call, Call.id == Lead.call_id)
            where = and_(where, func.coalesce(Call.simulated, False).is_(False))
        stmt = stmt.where(where).group_by(score_band, budget_band, Lead.zone, Lead.urgency)
        out: dict[str, dict[str, int]] = {
            "score_bands": {name: 0 for name, _, _ in SCORE_BANDS} | {"unscored": 0},
            "budget_bands": {name: 0 for name, _, _ in BUDGET_BANDS} | {"unknown": 0},
            "zones": defaultdict(int),
            "urgency": defaultdict(int),
        }
        with self.db.session() as s:
            for sb, bb, zone, urgency, n in s.execute(stmt):
                out["score_bands"][sb] += n
                out["budget_bands"][bb] += n
                out["zones"][zone or "n/d"] += n
                out["urgency"][urgency or "n/d"] += n
        out["zones"] = dict(sorted(out["zones"].items(), key=lambda kv: (-kv[1], kv[0])))
        out["urgency"] = dict(sorted(out["urgency"].items(), key=lambda kv: (-kv[1], kv[0])))
        return out

    def sentiment(
        self, tenant: TenantContext, rng: DateRange, include_simulated: bool = False
    ) -> dict[str, int]:
        lo, hi, _ = self._prepare(tenant, rng)
        stmt = (
            select(CallSentiment.label, func.count())
            .join(Call, Call.id == CallSentiment.call_id)
            .where(self._call_filter(tenant, lo, hi, include_simulated))
            .group_by(CallSentiment.label)
        )
        out = {"positive": 0, "neutral": 0, "negative": 0}
        with self.db.session() as s:
            for label, n in s.execute(stmt):
                out[label] = out.get(label, 0) + n
        return out

    def provider_usage(
        self, tenant: TenantContext, rng: DateRange, include_simulated: bool = False
    ) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
        """Turns served per provider and kind; also TTS characters per provider."""
        lo, hi, _ = self._prepare(tenant, rng)
        stmt = (
            select(
                Turn.stt_provider,
                Turn.llm_provider,
                Turn.tts_provider,
                func.count(),
                func.coalesce(func.sum(Turn.tts_chars), 0),
            )
            .where(self._turn_filter(tenant, lo, hi, include_simulated))
            .group_by(Turn.stt_provider, Turn.llm_provider, Turn.tts_provider)
        )
        usage: dict[str, dict[str, int]] = {"stt": {}, "llm": {}, "tts": {}}
        chars: dict[str, int] = {}
        with self.db.session() as s:
            for stt, llm, tts, n, nchars in s.execute(stmt):
                for kind, name in (("stt", stt), ("llm", llm), ("tts", tts)):
                    if name:
                        usage[kind][name] = usage[kind].get(name, 0) + n
                if tts and nchars:
                    chars[tts] = chars.get(tts, 0) + int(nchars)
        return usage, chars

    def fallback_share(
        self, tenant: TenantContext, usage: dict[str, dict[str, int]]
    ) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for kind, counts in usage.items():
            total = sum(counts.values())
            names = tenant.fallback_providers.get(kind, ())
            fallback = sum(n for p, n in counts.items() if _matches(p, names))
            out[kind] = round(fallback / total, 4) if total else None
        return out

    def latency(
        self,
        tenant: TenantContext,
        rng: DateRange,
        metrics: tuple[str, ...] = ("reply_ms", "first_audio_ms"),
        include_simulated: bool = False,
    ) -> list[Percentiles]:
        """Nearest-rank percentiles per local day of the per-turn timings.

        The rank is ceil(p/100 * n), computed in SQL with integer arithmetic so
        both backends pick the same row; only the chosen rows leave the database.
        """
        lo, hi, local = self._prepare(tenant, rng)
        out: list[Percentiles] = []
        with self.db.session() as s:
            for metric in metrics:
                col = getattr(Turn, metric)
                day = local.day(Turn.at).label("day")
                inner = (
                    select(
                        day,
                        col.label("v"),
                        func.row_number().over(partition_by=day, order_by=col).label("rn"),
                        func.count().over(partition_by=day).label("n"),
                    )
                    .where(self._turn_filter(tenant, lo, hi, include_simulated), col.is_not(None))
                    .subquery()
                )
                ranks = [(inner.c.n * p + 99) // 100 for p in PERCENTILES]
                stmt = select(inner.c.day, inner.c.rn, inner.c.n, inner.c.v).where(
                    or_(*[inner.c.rn == r for r in ranks])
                )
                rows: dict[str, tuple[int, dict[int, float]]] = {}
                for d, rn, n, v in s.execute(stmt):
                    rows.setdefault(d, (int(n), {}))[1][int(rn)] = float(v)
                for d in sorted(rows):
                    n, by_rank = rows[d]
                    values = {f"p{p}": by_rank[(n * p + 99) // 100] for p in PERCENTILES}
                    out.append(Percentiles(date.fromisoformat(d), metric, n, values))
        return out

    # ---- the whole report --------------------------------------------------

    def report(
        self, tenant: TenantContext, rng: DateRange, include_simulated: bool = False
    ) -> Report:
        volume = self.call_volume(tenant, rng, include_simulated)
        conv = self.conversion(tenant, rng, include_simulated)
        quality = self.lead_quality(tenant, rng, include_simulated)
        usage, chars = self.provider_usage(tenant, rng, include_simulated)
        costs = compute_costs(
            tenant.costs,
            call_seconds=volume["seconds"],
            tts_chars=chars,
            days=rng.days,
            leads=conv["converted"],
        )
        return Report(
            tenant_id=tenant.id,
            start=rng.start,
            end=rng.end,
            calls=volume["calls"],
            answered=volume["answered"],
            avg_duration_s=volume["avg_duration_s"],
            calls_by_hour=volume["by_hour"],
            calls_by_day=volume["by_day"],
            leads=conv["leads"],
            converted=conv["converted"],
            conversion_rate=round(conv["converted"] / volume["calls"], 4)
            if volume["calls"]
            else None,
            score_bands=quality["score_bands"],
            budget_bands=quality["budget_bands"],
            zones=quality["zones"],
            urgency=quality["urgency"],
            sentiment=self.sentiment(tenant, rng, include_simulated),
            costs=costs,
            provider_usage=usage,
            fallback_share=self.fallback_share(tenant, usage),
            latency=self.latency(tenant, rng, include_simulated=include_simulated),
        )
