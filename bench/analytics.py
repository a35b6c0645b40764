"""Analytics on a year of generated calls, on SQLite and on PostgreSQL.

Generates ``--calls`` calls (default 1,000,000, about 4.2 calls' worth of turns
each, a third of them leads) for ONE agency over the 12 months up to today -
the worst case, every query filters on that tenant - and times:

* the one-off rollup build (every metric for 365 local days, stored in
  ``analytics_days``; in production this happens once per day as days settle),
* each SQL query of the live path over the last 30 days (what a report costs
  without any stored day),
* whole reports as the admin page and ``/api/v1/stats`` run them (stored days
  plus the two unsettled days computed live): 12 months, 30 days, 7 days.

The generated databases are cached between runs (``var/bench/``; PostgreSQL
database ``centralino_bench_<N>``), so only the first run pays for generation.

Usage: python -m bench.analytics [--calls N] [--backends sqlite,postgres] [--regenerate]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, func, select, text

from bench.machine import machine_info, machine_line
from centralino.analytics.service import AnalyticsService, DateRange, TenantContext
from centralino.calls.models import Call
from centralino.db.session import Database
from centralino.demo.generate import GenerateSpec, generate
from centralino.tenants.models import Tenant
from centralino.tenants.service import TenantService, parse_spec

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "bench"
RESULTS = ROOT / "bench-results" / "analytics.json"
PG_ADMIN = os.environ.get(
    "CENTRALINO_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TARGET_S = 1.0
TZ = "Europe/Rome"
COSTS = {"trunk_eur_per_min": 0.012, "fixed_monthly_eur": 49.0,
         "tts_eur_per_char": {"elevenlabs": 0.00018}}  # fmt: skip


def _prepare(db: Database, calls: int, regenerate: bool) -> tuple[int, float | None]:
    """The bench tenant's id, and the generation time if it had to generate."""
    db.upgrade()
    with db.session() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.slug == "bench"))
        have = (
            s.scalar(select(func.count()).select_from(Call).where(Call.tenant_id == tenant.id))
            if tenant
            else 0
        )
    if tenant is not None and have == calls and not regenerate:
        return tenant.id, None
    if tenant is not None:
        with db.engine.begin() as c:
            for table in ("analytics_days", "call_sentiments", "leads", "turns", "call_events",
                          "calls"):  # fmt: skip
                c.execute(text(f"DELETE FROM {table} WHERE tenant_id = :t"), {"t": tenant.id})
    tenant_id = TenantService(db).upsert(
        parse_spec({"slug": "bench", "name": "Bench Immobiliare", "numbers": ["+390200000001"],
                    "settings": {"costs": COSTS}})
    )  # fmt: skip
    started = time.perf_counter()
    generate(
        db,
        GenerateSpec(tenant_id=tenant_id, calls=calls, end=datetime.now(ZoneInfo(TZ)).date(),
                     days=365, transcripts=False, chunk=50_000),
    )  # fmt: skip
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("ANALYZE"))
    return tenant_id, time.perf_counter() - started


def _median(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_backend(
    name: str, db: Database, calls: int, regenerate: bool, repeat: int
) -> dict[str, Any]:
    tenant_id, gen_s = _prepare(db, calls, regenerate)
    with db.session() as s:
        tenant = TenantContext.from_tenant(s.get(Tenant, tenant_id))
    today = datetime.now(ZoneInfo(TZ)).date()
    year = DateRange(today - timedelta(days=364), today)
    month = DateRange(today - timedelta(days=29), today)
    week = DateRange(today - timedelta(days=6), today)
    service = AnalyticsService(db)
    rows: list[tuple[str, float]] = []

    service.invalidate(tenant_id)
    t0 = time.perf_counter()
    service.refresh(tenant, year)
    build_s = time.perf_counter() - t0

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    service.compute_days(tenant, month, timings=timings)
    live_month = time.perf_counter() - t0
    for query, seconds in timings.items():
        rows.append((f"live 30 days: {query}", seconds))
    rows.append(("live 30 days: all queries", live_month))
    report = service.report(tenant, year)  # warm-up: caches, plans
    rows.append(
        ("report 12 months (stored days)", _median(lambda: service.report(tenant, year), repeat))
    )
    rows.append(
        ("report 30 days (stored days)", _median(lambda: service.report(tenant, month), repeat))
    )
    rows.append(
        ("report 7 days (stored days)", _median(lambda: service.report(tenant, week), repeat))
    )
    seconds = _median(lambda: service.report(tenant, year, include_simulated=True), repeat)
    rows.append(("report 12 months incl. simulated calls", seconds))
    return {
        "backend": name,
        "calls": report.calls,
        "leads": report.leads,
        "generated_s": round(gen_s, 1) if gen_s is not None else None,
        "rollup_build_365_days_s": round(build_s, 2),
        "queries": {q: round(s, 4) for q, s in rows},
    }


def _pg_database(calls: int) -> Database | None:
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 3})  # fmt: skip
        name = f"centralino_bench_{calls}"
        with admin.connect() as c:
            exists = c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if exists.scalar() is None:
                c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:
        print(f"PostgreSQL not reachable at {PG_ADMIN}: {exc}")
        return None
    return Database(PG_ADMIN.rsplit("/", 1)[0] + "/" + name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics")
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            CACHE.mkdir(parents=True, exist_ok=True)
            db: Database | None = Database(f"sqlite:///{CACHE / f'analytics-{args.calls}.db'}")
        elif backend == "postgres":
            db = _pg_database(args.calls)
        else:
            parser.error(f"unknown backend {backend}")
        if db is None:
            continue
        print(
            f"[{backend}] preparing {args.calls} calls (cached after the first run)...", flush=True
        )
        results.append(run_backend(backend, db, args.calls, args.regenerate, args.repeat))
        db.dispose()

    print(f"\nAnalytics, {args.calls:,} calls over 12 months, one agency - {machine_line()}")
    for r in results:
        gen = f", generated in {r['generated_s']} s" if r["generated_s"] else ", cached data"
        print(f"\n{r['backend']}: {r['calls']:,} calls, {r['leads']:,} leads{gen}; "
              f"rollup build for 365 days (one-off): {r['rollup_build_365_days_s']} s")  # fmt: skip
        print(f"  {'query':<44} {'seconds':>9}  < {TARGET_S:.0f} s")
        for query, seconds in r["queries"].items():
            ok = "yes" if seconds < TARGET_S else "NO"
            print(f"  {query:<44} {seconds:>9.3f}  {ok}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": machine_info(),
                "calls": args.calls,
                "target_s": TARGET_S,
                "results": results,
            },
            indent=2,
        )
    )
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
