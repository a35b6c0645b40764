"""Analytics against numbers worked out by hand from tests/analytics/fixtures.py.

Runs on SQLite and on the real PostgreSQL server (the ``db`` fixture).
"""

from __future__ import annotations

from datetime import date

import pytest

from centralino.analytics.costs import CostSettingsError, parse_costs
from centralino.analytics.service import AnalyticsError, AnalyticsService, DateRange, TenantContext
from centralino.db.session import Database
from centralino.tenants.models import Tenant

from .fixtures import load_fixed_dataset

RANGE = DateRange(date(2026, 3, 28), date(2026, 3, 30))


def _ctx(db: Database, tenant_id: int) -> TenantContext:
    with db.session() as s:
        return TenantContext.from_tenant(s.get(Tenant, tenant_id))


def test_report_matches_hand_computed_values(db: Database) -> None:
    alfa, _ = load_fixed_dataset(db)
    report = AnalyticsService(db).report(_ctx(db, alfa), RANGE)

    # c1 c2 c3 c4 c6 (c5 is 00:30 local on 31 March, c7 simulated, b* other tenant).
    assert report.calls == 5
    assert report.answered == 4  # c4 was never answered
    assert report.avg_duration_s == pytest.approx((120 + 60 + 180 + 30) / 4)  # 97.5
    hours = [0] * 24
    hours[0] = 2  # c6 00:10 (+1h), c2 00:30 on the 29th (+1h, before the switch)
    hours[9] = 2  # c1 09:30 (+1h), c3 09:00 (+2h, after the switch)
    hours[18] = 1  # c4 18:15 (+2h)
    assert report.calls_by_hour == hours
    assert report.calls_by_day == [
        (date(2026, 3, 28), 2),
        (date(2026, 3, 29), 2),
        (date(2026, 3, 30), 1),
    ]
    # Leads of calls in range: c1 c2 c3; c2 has no zone (required) -> 2 converted.
    assert (report.leads, report.converted) == (3, 2)
    assert report.conversion_rate == pytest.approx(2 / 5)
    # Quality: leads created in range, simulated excluded, manual lead included.
    assert report.score_bands == {"0-24": 0, "25-49": 2, "50-74": 0, "75-100": 1, "unscored": 1}
    assert report.budget_bands == {
        "<= 150k": 0,
        "150k-300k": 1,
        "300k-500k": 1,
        "> 500k": 1,
        "unknown": 1,
    }
    assert report.zones == {"Brera": 1, "Isola": 1, "Navigli": 1, "n/d": 1}
    assert report.urgency == {"high": 1, "low": 1, "medium": 1, "n/d": 1}
    assert report.sentiment == {"positive": 1, "neutral": 1, "negative": 1}
    assert report.provider_usage == {
        "stt": {"whisper": 2},
        "llm": {"ollama": 3, "rules": 1},
        "tts": {"elevenlabs": 3, "offline:pico": 1},
    }
    assert report.fallback_share == {"stt": 0.0, "llm": 0.25, "tts": 0.25}
    # 390 s = 6.5 min x 0.02 = 0.13; 180 chars x 0.0002 = 0.036 (pico is free);
    # 36.5 EUR/month x 3 days x 12/365 = 3.6; total 3.766 over 2 converted leads.
    costs = report.costs
    assert costs.minutes == pytest.approx(6.5)
    assert costs.trunk == pytest.approx(0.13)
    assert costs.tts == pytest.approx(0.036)
    assert costs.fixed == pytest.approx(3.6)
    assert costs.total == pytest.approx(3.766)
    assert costs.per_lead == pytest.approx(1.883)
    assert costs.tts_chars == {"elevenlabs": 180, "offline:pico": 80}
    latency = {(p.day, p.metric): (p.count, p.values) for p in report.latency}
    # 28th: c1 replies 800, 400 -> nearest rank p50 = 1st of 2, p90+ = 2nd.
    assert latency[(date(2026, 3, 28), "reply_ms")] == (
        2,
        {"p50": 400.0, "p90": 800.0, "p95": 800.0, "p99": 800.0},
    )
    # 29th (local): c2 at 00:30 (600) and c3 (1000).
    assert latency[(date(2026, 3, 29), "reply_ms")] == (
        2,
        {"p50": 600.0, "p90": 1000.0, "p95": 1000.0, "p99": 1000.0},
    )
    assert latency[(date(2026, 3, 28), "first_audio_ms")][1]["p50"] == 900.0
    assert latency[(date(2026, 3, 29), "first_audio_ms")][1]["p90"] == 1500.0
    assert len(latency) == 4


def test_simulated_calls_included_on_request(db: Database) -> None:
    alfa, _ = load_fixed_dataset(db)
    ctx = _ctx(db, alfa)
    AnalyticsService(db).report(ctx, RANGE)  # store the (real-call) days first
    report = AnalyticsService(db).report(ctx, RANGE, include_simulated=True)
    assert report.calls == 6
    assert (report.leads, report.converted) == (4, 3)
    assert report.provider_usage["tts"] == {"elevenlabs": 4, "offline:pico": 1}
    # Stored days (real calls) plus the simulated ones computed live == all live.
    live = AnalyticsService(db, use_rollups=False).report(ctx, RANGE, include_simulated=True)
    assert report == live
    # Latency covers real calls only (c7's 5000 ms text-only reply is not in it).
    assert max(p.values["p99"] for p in report.latency) == 1500.0


def test_tenants_are_isolated(db: Database) -> None:
    _alfa, beta = load_fixed_dataset(db)
    report = AnalyticsService(db).report(_ctx(db, beta), RANGE)
    assert report.calls == 2
    assert report.avg_duration_s == pytest.approx(350.0)
    assert (report.leads, report.converted) == (1, 1)
    assert report.zones == {"Brera": 1}
    assert report.costs.tts_chars == {"elevenlabs": 777}
    # beta has no cost settings: only zero costs.
    assert report.costs.total == 0.0
    assert report.costs.per_lead == 0.0


def test_empty_range_has_no_rates(db: Database) -> None:
    alfa, _ = load_fixed_dataset(db)
    empty = DateRange(date(2025, 1, 1), date(2025, 1, 2))
    report = AnalyticsService(db).report(_ctx(db, alfa), empty)
    assert report.calls == 0
    assert report.conversion_rate is None
    assert report.avg_duration_s is None
    assert report.costs.per_lead is None
    assert report.latency == []
    assert report.calls_by_day == [(date(2025, 1, 1), 0), (date(2025, 1, 2), 0)]


def test_date_range_validation() -> None:
    with pytest.raises(AnalyticsError) as err:
        DateRange.parse("2026-03-30", "2026-03-01")
    assert err.value.field == "to"
    with pytest.raises(AnalyticsError) as err:
        DateRange.parse("2026-13-01", None)
    assert err.value.field == "from"
    with pytest.raises(AnalyticsError) as err:
        DateRange.parse("2024-01-01", "2026-01-01")
    assert err.value.field == "to"
    assert DateRange.parse("2026-03-01", None).days == 30


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"trunk_eur_per_min": "cheap"}, "costs.trunk_eur_per_min"),
        ({"trunk_eur_per_min": -1}, "costs.trunk_eur_per_min"),
        ({"trunk_eur_per_min": True}, "costs.trunk_eur_per_min"),
        ({"fixed_monthly_eur": float("nan")}, "costs.fixed_monthly_eur"),
        ({"tts_eur_per_char": {"elevenlabs": 5}}, "costs.tts_eur_per_char.elevenlabs"),
        ({"tts_eur_per_char": []}, "costs.tts_eur_per_char"),
        ({"tariff": 1}, "costs.tariff"),
        ({"currency": "euro"}, "costs.currency"),
        ("free", "costs"),
    ],
)
def test_cost_settings_validation(data: object, field: str) -> None:
    with pytest.raises(CostSettingsError) as err:
        parse_costs(data)
    assert err.value.field == field


def test_tts_price_by_provider_prefix() -> None:
    costs = parse_costs({"tts_eur_per_char": {"offline": 0.001, "offline:piper": 0.002}})
    assert costs.tts_price("offline:pico") == 0.001
    assert costs.tts_price("offline:piper") == 0.002
    assert costs.tts_price("elevenlabs") == 0.0
    # A turn the pipeline records as spoken by two providers: the dearer price.
    assert costs.tts_price("elevenlabs+offline:piper") == 0.002


def test_mixed_tts_turns_count_as_fallback() -> None:
    from centralino.analytics.service import AnalyticsService as S

    share = S.fallback_share(
        S.__new__(S),
        TenantContext(1),
        {"stt": {"whisper:small": 3}, "llm": {"ollama": 3, "rules": 1},
         "tts": {"elevenlabs": 2, "elevenlabs+offline:pico2wave": 1, "offline:espeak": 1}},
    )  # fmt: skip
    assert share == {"stt": 0.0, "llm": 0.25, "tts": 0.5}


def test_settled_days_are_stored_and_read_back_identically(db: Database) -> None:
    from sqlalchemy import func, select

    from centralino.analytics.models import AnalyticsDay

    alfa, _ = load_fixed_dataset(db)
    ctx = _ctx(db, alfa)
    live = AnalyticsService(db, use_rollups=False).report(ctx, RANGE)
    service = AnalyticsService(db)
    first = service.report(ctx, RANGE)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(AnalyticsDay)) == 3
    # Delete a call: the stored days do not notice until refreshed.
    with db.engine.begin() as c:
        c.exec_driver_sql("DELETE FROM turns WHERE call_id = 'c4'")
        c.exec_driver_sql("DELETE FROM calls WHERE id = 'c4'")
    second = service.report(ctx, RANGE)
    assert first == live == second
    assert service.refresh(ctx, RANGE) == 3
    assert service.report(ctx, RANGE).calls == 4
    service.invalidate(alfa)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(AnalyticsDay)) == 0


def test_conversion_follows_the_required_fields_of_today(db: Database) -> None:
    alfa, _ = load_fixed_dataset(db)
    service = AnalyticsService(db)
    ctx = _ctx(db, alfa)
    assert service.report(ctx, RANGE).converted == 2
    # Same stored days, stricter tenant: urgency now required (c1 high, c3 medium, c2 none).
    stricter = TenantContext(alfa, required_fields=(*ctx.required_fields, "urgency"))
    assert service.report(stricter, RANGE).converted == 2
    strictest = TenantContext(alfa, required_fields=("budget", "urgency", "callback_time"))
    assert service.report(strictest, RANGE).converted == 0
    lenient = TenantContext(alfa, required_fields=("name",))
    assert service.report(lenient, RANGE).converted == 3


def test_recent_days_are_not_stored(db: Database) -> None:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from sqlalchemy import func, select

    from centralino.analytics.models import AnalyticsDay

    alfa, _ = load_fixed_dataset(db)
    today = datetime.now(ZoneInfo("Europe/Rome")).date()
    AnalyticsService(db).report(_ctx(db, alfa), DateRange(today - timedelta(days=3), today))
    with db.session() as s:
        # today-3 and today-2 are settled; yesterday and today stay live.
        assert s.scalar(select(func.count()).select_from(AnalyticsDay)) == 2
