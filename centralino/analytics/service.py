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

import copy
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from time import perf_counter
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, and_, case, delete, func, literal, or_, select, true

from centralino.analytics.costs import CostBreakdown, CostSettings, compute_costs, parse_costs
from centralino.analytics.models import AnalyticsDay
from centralino.calls.models import Call, Turn
from centralino.db.session import Database
from centralino.leads.models import Lead
from centralino.sentiment.models import CallSentiment

log = logging.getLogger(__name__)

MAX_RANGE_DAYS = 400
PERCENTILES = (50, 90, 95, 99)
LATENCY_METRICS = ("reply_ms", "first_audio_ms")
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
    """Is ``provider`` a fallback? A mixed turn ("elevenlabs+offline:pico") is."""
    return any(
        part in names or part.split(":", 1)[0] in names for part in provider.split("+") if part
    )


# --------------------------------------------------------------------------- per-day data

# Bump when the shape or meaning of DayData changes: stored rollups of an older
# version are recomputed on the next read.
ROLLUP_VERSION = 1
LEAD_FIELD_BITS = {name: 1 << i for i, name in enumerate(_LEAD_FIELDS)}


def _empty_day() -> dict[str, Any]:
    return {
        "calls": 0,
        "answered": 0,
        "seconds": 0.0,
        "by_hour": [0] * 24,
        # Leads of the day's calls by "which lead fields are filled" bitmask, so
        # the conversion rate follows the tenant's required fields as they are
        # *now*, without recomputing anything.
        "lead_masks": {},
        "score_bands": {},
        "budget_bands": {},
        "zones": {},
        "urgency": {},
        "sentiment": {},
        "usage": {"stt": {}, "llm": {}, "tts": {}},
        "tts_chars": {},
        "latency": {},
    }


def _bump(counter: dict[str, Any], key: str, n: int | float) -> None:
    counter[key] = counter.get(key, 0) + n


def _merge_day(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Day ``a`` plus the counts of day ``b`` (latency stays ``a``'s)."""
    out = copy.deepcopy(a)
    for key in ("calls", "answered", "seconds"):
        out[key] += b[key]
    out["by_hour"] = [x + y for x, y in zip(a["by_hour"], b["by_hour"], strict=True)]
    for key in ("lead_masks", "score_bands", "budget_bands", "zones", "urgency", "sentiment",
                "tts_chars"):  # fmt: skip
        for k, n in b[key].items():
            _bump(out[key], k, n)
    for kind, counts in b["usage"].items():
        for k, n in counts.items():
            _bump(out["usage"][kind], k, n)
    return out


class AnalyticsService:
    """Analytics for one tenant at a time.

    Every metric is computed per local day by a grouped SQL query. Days that are
    over (older than ``settle_days``) are stored in ``analytics_days`` the first
    time they are computed, so a year is read back as 365 small rows instead of
    re-scanning a million calls; recent days are always computed live.
    """

    def __init__(self, db: Database, settle_days: int = 2, use_rollups: bool = True) -> None:
        self.db = db
        self.settle_days = settle_days
        self.use_rollups = use_rollups

    # ---- per-day SQL -------------------------------------------------------

    def _prepare(self, tenant: TenantContext, rng: DateRange) -> tuple[datetime, datetime, _Local]:
        lo, hi = rng.utc_bounds(tenant.zone)
        return lo, hi, _Local(self.db.engine.dialect.name, tenant.zone, lo, hi)

    def _call_filter(
        self, tenant: TenantContext, lo: datetime, hi: datetime, mode: str
    ) -> ColumnElement[bool]:
        """``mode``: "real" (no simulated calls), "simulated" (only those), "all"."""
        cond = and_(Call.tenant_id == tenant.id, Call.started_at >= lo, Call.started_at < hi)
        if mode == "real":
            cond = and_(cond, Call.simulated.is_(False))
        elif mode == "simulated":
            cond = and_(cond, Call.simulated == true())
        return cond

    def _simulated_ids(self, tenant: TenantContext, lo: datetime, hi: datetime) -> Any:
        # Simulated calls are few (partial index ix_calls_simulated): the database
        # evaluates this list once. A call may have started a day before its turns.
        return select(Call.id).where(
            Call.tenant_id == tenant.id,
            Call.simulated == true(),
            Call.started_at >= lo - timedelta(days=1),
            Call.started_at < hi,
        )

    def _turn_filter(
        self, tenant: TenantContext, lo: datetime, hi: datetime, mode: str
    ) -> ColumnElement[bool]:
        cond = and_(Turn.tenant_id == tenant.id, Turn.at >= lo, Turn.at < hi)
        if mode == "real":
            cond = and_(cond, Turn.call_id.not_in(self._simulated_ids(tenant, lo, hi)))
        elif mode == "simulated":
            cond = and_(cond, Turn.call_id.in_(self._simulated_ids(tenant, lo, hi)))
        return cond

    def compute_days(
        self,
        tenant: TenantContext,
        rng: DateRange,
        include_simulated: bool = False,
        timings: dict[str, float] | None = None,
        only_simulated: bool = False,
    ) -> dict[date, dict[str, Any]]:
        """Every metric for each local day of ``rng``, straight from the tables.

        Latency percentiles always cover real calls only: simulated calls have
        no audio and their text-only timings would skew them.
        ``timings``, if given, receives the seconds each query took (benchmark).
        """
        mode = "simulated" if only_simulated else ("all" if include_simulated else "real")
        clock = [perf_counter()]

        def lap(name: str) -> None:
            now = perf_counter()
            if timings is not None:
                timings[name] = timings.get(name, 0.0) + now - clock[0]
            clock[0] = now

        lo, hi, local = self._prepare(tenant, rng)
        days = {d: _empty_day() for d in rng.each_day()}

        def day_of(text: str) -> dict[str, Any] | None:
            return days.get(date.fromisoformat(text[:10]))

        calls_where = self._call_filter(tenant, lo, hi, mode)
        turns_where = self._turn_filter(tenant, lo, hi, mode)
        with self.db.session() as s:
            # Volume: one row per local hour.
            bucket = local.hour(Call.started_at).label("bucket")
            volume = (
                select(
                    bucket,
                    func.count(),
                    func.count(Call.duration_s),
                    func.coalesce(func.sum(Call.duration_s), 0.0),
                )
                .where(calls_where)
                .group_by(bucket)
            )
            for b, n, answered, seconds in s.execute(volume):
                if (d := day_of(b)) is not None:
                    d["calls"] += n
                    d["answered"] += answered
                    d["seconds"] += float(seconds or 0.0)
                    d["by_hour"][int(b[11:13])] += n

            lap("volume")

            # Conversion: leads of the day's calls, by filled-fields bitmask.
            mask: ColumnElement[Any] = literal(0)
            for name, bit in LEAD_FIELD_BITS.items():
                mask = mask + case((_LEAD_FIELDS[name](), bit), else_=0)
            mask = mask.label("mask")
            call_day = local.day(Call.started_at).label("day")
            conversion = (
                select(call_day, mask, func.count())
                .select_from(Lead)
                .join(Call, Call.id == Lead.call_id)
                .where(Lead.tenant_id == tenant.id, calls_where)
                .group_by(call_day, mask)
            )
            for day_text, m, n in s.execute(conversion):
                if (d := day_of(day_text)) is not None:
                    _bump(d["lead_masks"], str(int(m)), n)

            lap("conversion")

            # Lead quality: leads created that day.
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
            lead_day = local.day(Lead.created_at).label("day")
            lead_where = and_(
                Lead.tenant_id == tenant.id, Lead.created_at >= lo, Lead.created_at < hi
            )
            quality = select(
                lead_day, score_band, budget_band, Lead.zone, Lead.urgency, func.count()
            )
            if mode == "real":
                quality = quality.outerjoin(Call, Call.id == Lead.call_id)
                lead_where = and_(lead_where, func.coalesce(Call.simulated, False).is_(False))
            elif mode == "simulated":
                # Driven by the few simulated call ids (unique index on leads.call_id).
                lead_where = and_(lead_where, Lead.call_id.in_(self._simulated_ids(tenant, lo, hi)))
            quality = quality.where(lead_where).group_by(
                lead_day, score_band, budget_band, Lead.zone, Lead.urgency
            )
            for day_text, sb, bb, zone, urgency, n in s.execute(quality):
                if (d := day_of(day_text)) is not None:
                    _bump(d["score_bands"], sb, n)
                    _bump(d["budget_bands"], bb, n)
                    _bump(d["zones"], zone or "n/d", n)
                    _bump(d["urgency"], urgency or "n/d", n)

            lap("lead_quality")

            # Sentiment of the day's calls.
            sentiment = (
                select(call_day, CallSentiment.label, func.count())
                .join(Call, Call.id == CallSentiment.call_id)
                .where(calls_where)
                .group_by(call_day, CallSentiment.label)
            )
            for day_text, label, n in s.execute(sentiment):
                if (d := day_of(day_text)) is not None:
                    _bump(d["sentiment"], label, n)

            lap("sentiment")

            # Providers and TTS characters of the day's turns.
            turn_day = local.day(Turn.at).label("day")
            usage = (
                select(
                    turn_day,
                    Turn.stt_provider,
                    Turn.llm_provider,
                    Turn.tts_provider,
                    func.count(),
                    func.coalesce(func.sum(Turn.tts_chars), 0),
                )
                .where(turns_where)
                .group_by(turn_day, Turn.stt_provider, Turn.llm_provider, Turn.tts_provider)
            )
            for day_text, stt, llm, tts, n, chars in s.execute(usage):
                if (d := day_of(day_text)) is None:
                    continue
                for kind, name in (("stt", stt), ("llm", llm), ("tts", tts)):
                    if name:
                        _bump(d["usage"][kind], name, n)
                if tts and chars:
                    _bump(d["tts_chars"], tts, int(chars))

            lap("providers_costs")

            # Latency: nearest-rank percentiles per day, rank = ceil(p/100 * n)
            # in integer arithmetic so both backends pick the same row.
            real_turns = self._turn_filter(tenant, lo, hi, "real")
            for metric in LATENCY_METRICS if mode != "simulated" else ():
                col = getattr(Turn, metric)
                inner = (
                    select(
                        turn_day,
                        col.label("v"),
                        func.row_number().over(partition_by=turn_day, order_by=col).label("rn"),
                        func.count().over(partition_by=turn_day).label("n"),
                    )
                    .where(real_turns, col.is_not(None))
                    .subquery()
                )
                ranks = [(inner.c.n * p + 99) // 100 for p in PERCENTILES]
                picked = select(inner.c.day, inner.c.rn, inner.c.n, inner.c.v).where(
                    or_(*[inner.c.rn == r for r in ranks])
                )
                rows: dict[str, tuple[int, dict[int, float]]] = {}
                for day_text, rn, n, v in s.execute(picked):
                    rows.setdefault(day_text, (int(n), {}))[1][int(rn)] = float(v)
                for day_text, (n, by_rank) in rows.items():
                    if (d := day_of(day_text)) is not None:
                        d["latency"][metric] = {
                            "count": n,
                            **{f"p{p}": by_rank[(n * p + 99) // 100] for p in PERCENTILES},
                        }
                lap(f"latency_{metric}")
        return days

    # ---- rollups -----------------------------------------------------------

    def _settled_until(self, tenant: TenantContext) -> date:
        today = datetime.now(tenant.zone).date()
        return today - timedelta(days=self.settle_days)

    def days(
        self, tenant: TenantContext, rng: DateRange, include_simulated: bool = False
    ) -> dict[date, dict[str, Any]]:
        """Per-day data for ``rng``: stored rollups where settled, live elsewhere.

        Stored days hold real calls only; with ``include_simulated`` the few
        simulated calls are computed live and added in.
        """
        if not self.use_rollups:
            return self.compute_days(tenant, rng, include_simulated)
        if include_simulated:
            real = self.days(tenant, rng)
            extra = self.compute_days(tenant, rng, only_simulated=True)
            return {d: _merge_day(real[d], extra[d]) for d in rng.each_day()}
        out: dict[date, dict[str, Any]] = {}
        with self.db.session() as s:
            stored = s.execute(
                select(AnalyticsDay.day, AnalyticsDay.data).where(
                    AnalyticsDay.tenant_id == tenant.id,
                    AnalyticsDay.day >= rng.start.isoformat(),
                    AnalyticsDay.day <= rng.end.isoformat(),
                    AnalyticsDay.version == ROLLUP_VERSION,
                )
            ).all()
        for day_text, data in stored:
            out[date.fromisoformat(day_text)] = data
        missing = [d for d in rng.each_day() if d not in out]
        if not missing:
            return out
        live = self.compute_days(tenant, DateRange(missing[0], missing[-1]))
        settled = self._settled_until(tenant)
        to_store = {d: data for d, data in live.items() if d <= settled and d not in out}
        if to_store:
            self._store(tenant.id, to_store)
        for d in missing:
            out[d] = live[d]
        return out

    def _store(self, tenant_id: int, days: dict[date, dict[str, Any]]) -> None:
        keys = [d.isoformat() for d in days]
        with self.db.session() as s:
            s.execute(
                delete(AnalyticsDay).where(
                    AnalyticsDay.tenant_id == tenant_id, AnalyticsDay.day.in_(keys)
                )
            )
            s.add_all(
                AnalyticsDay(
                    tenant_id=tenant_id, day=d.isoformat(), version=ROLLUP_VERSION, data=data
                )
                for d, data in days.items()
            )

    def refresh(self, tenant: TenantContext, rng: DateRange) -> int:
        """Recompute and store the settled days of ``rng`` (after backfills, rescoring)."""
        settled = self._settled_until(tenant)
        if rng.start > settled:
            return 0
        span = DateRange(rng.start, min(rng.end, settled))
        self._store(tenant.id, self.compute_days(tenant, span))
        return span.days

    def invalidate(self, tenant_id: int) -> None:
        """Forget a tenant's stored days (they are recomputed on the next read)."""
        with self.db.session() as s:
            s.execute(delete(AnalyticsDay).where(AnalyticsDay.tenant_id == tenant_id))

    # ---- the report ----------------------------------------------------------

    def report(
        self, tenant: TenantContext, rng: DateRange, include_simulated: bool = False
    ) -> Report:
        days = self.days(tenant, rng, include_simulated)
        ordered = [days[d] for d in rng.each_day()]
        calls = sum(d["calls"] for d in ordered)
        answered = sum(d["answered"] for d in ordered)
        seconds = sum(d["seconds"] for d in ordered)
        by_hour = [sum(d["by_hour"][h] for d in ordered) for h in range(24)]
        required = 0
        for name in tenant.required_fields:
            required |= LEAD_FIELD_BITS.get(name, 0)
        leads = converted = 0
        for d in ordered:
            for m, n in d["lead_masks"].items():
                leads += n
                if int(m) & required == required:
                    converted += n

        def total(key: str, seed: dict[str, int] | None = None) -> dict[str, int]:
            out = dict(seed or {})
            for d in ordered:
                for k, n in d[key].items():
                    out[k] = out.get(k, 0) + n
            return out

        def by_count(counter: dict[str, int]) -> dict[str, int]:
            return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))

        usage = {
            kind: by_count(
                {
                    k: sum(d["usage"][kind].get(k, 0) for d in ordered)
                    for k in {k for d in ordered for k in d["usage"][kind]}
                }
            )
            for kind in ("stt", "llm", "tts")
        }
        tts_chars = total("tts_chars")
        costs = compute_costs(
            tenant.costs, call_seconds=seconds, tts_chars=tts_chars, days=rng.days, leads=converted
        )
        latency = [
            Percentiles(
                day,
                metric,
                int(values["count"]),
                {k: float(v) for k, v in values.items() if k != "count"},
            )
            for day in rng.each_day()
            for metric in LATENCY_METRICS
            if (values := days[day]["latency"].get(metric))
        ]
        return Report(
            tenant_id=tenant.id,
            start=rng.start,
            end=rng.end,
            calls=calls,
            answered=answered,
            avg_duration_s=round(seconds / answered, 2) if answered else None,
            calls_by_hour=by_hour,
            calls_by_day=[(day, days[day]["calls"]) for day in rng.each_day()],
            leads=leads,
            converted=converted,
            conversion_rate=round(converted / calls, 4) if calls else None,
            score_bands=total(
                "score_bands", {name: 0 for name, _, _ in SCORE_BANDS} | {"unscored": 0}
            ),
            budget_bands=total(
                "budget_bands", {name: 0 for name, _, _ in BUDGET_BANDS} | {"unknown": 0}
            ),
            zones=by_count(total("zones")),
            urgency=by_count(total("urgency")),
            sentiment=total("sentiment", {"positive": 0, "neutral": 0, "negative": 0}),
            costs=costs,
            provider_usage=usage,
            fallback_share=self.fallback_share(tenant, usage),
            latency=latency,
        )

    def fallback_share(
        self, tenant: TenantContext, usage: dict[str, dict[str, int]]
    ) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for kind, counts in usage.items():
            n = sum(counts.values())
            names = tenant.fallback_providers.get(kind, ())
            fallback = sum(c for p, c in counts.items() if _matches(p, names))
            out[kind] = round(fallback / n, 4) if n else None
        return out
