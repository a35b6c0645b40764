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

import json
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench.generated_db import TZ, argument_parser, databases, generated_tenant, median_s
from bench.machine import machine_info, machine_line
from centralino.analytics.service import AnalyticsService, DateRange, TenantContext
from centralino.db.session import Database
from centralino.tenants.models import Tenant

TARGET_S = 1.0
COSTS = {"trunk_eur_per_min": 0.012, "fixed_monthly_eur": 49.0,
         "tts_eur_per_char": {"elevenlabs": 0.00018}}  # fmt: skip
TENANT = {"slug": "bench", "name": "Bench Immobiliare", "numbers": ["+390200000001"],
          "settings": {"costs": COSTS}}  # fmt: skip


def run_backend(
    name: str, db: Database, calls: int, regenerate: bool, repeat: int
) -> dict[str, Any]:
    tenant_id, gen_s = generated_tenant(
        db, TENANT, calls, regenerate, transcripts=False, chunk=50_000
    )
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
        ("report 12 months (stored days)", median_s(lambda: service.report(tenant, year), repeat))
    )
    rows.append(
        ("report 30 days (stored days)", median_s(lambda: service.report(tenant, month), repeat))
    )
    rows.append(
        ("report 7 days (stored days)", median_s(lambda: service.report(tenant, week), repeat))
    )
    seconds = median_s(lambda: service.report(tenant, year, include_simulated=True), repeat)
    rows.append(("report 12 months incl. simulated calls", seconds))
    return {
        "backend": name,
        "calls": report.calls,
        "leads": report.leads,
        "generated_s": round(gen_s, 1) if gen_s is not None else None,
        "rollup_build_365_days_s": round(build_s, 2),
        "queries": {q: round(s, 4) for q, s in rows},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("analytics", calls=1_000_000, repeat=3)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args(argv)
    results = [
        run_backend(backend, db, args.calls, args.regenerate, args.repeat)
        for backend, db in databases(parser, args, f"analytics-{args.calls}.db",
                                     f"centralino_bench_{args.calls}")
    ]  # fmt: skip

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
