"""Web admin page times on a year of generated calls (with transcripts).

Generates ``--calls`` calls (default 100,000, with transcripts, a third of them
leads) for one agency over 12 months, then requests the admin's pages through
the real Flask app (test client: no network, the whole view + query + template)
as that agency's admin, and reports the median of ``--repeat`` runs per page:
dashboard, call log first/deep page, each filter (quality, caller, free text in
the transcripts), call detail, a month's CSV export and the client list.

The generated database is cached in ``var/bench/`` (PostgreSQL: database
``centralino_bench_admin_<N>``), so only the first run pays for generation.

Usage: python -m bench.admin [--calls N] [--backends sqlite,postgres] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, delete, func, select, text

from admin_web.app import create_app
from admin_web.services import build_services
from bench.machine import machine_info, machine_line
from centralino.accounts.models import User
from centralino.calls.models import Call
from centralino.config import Config
from centralino.db.session import Database
from centralino.demo.generate import GenerateSpec, generate
from centralino.tenants.models import Tenant
from centralino.tenants.service import TenantService, parse_spec

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "bench"
RESULTS = ROOT / "bench-results" / "admin.json"
PG_ADMIN = os.environ.get(
    "CENTRALINO_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TZ = "Europe/Rome"
PASSWORD = "bench-password-" + secrets.token_hex(4)
# What a page should take to feel immediate on the office server.
TARGET_S = 0.5


def _prepare(db: Database, calls: int) -> tuple[int, float | None]:
    db.upgrade()
    with db.session() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.slug == "bench-admin"))
        have = (
            s.scalar(select(func.count()).select_from(Call).where(Call.tenant_id == tenant.id))
            if tenant
            else 0
        )
    if tenant is not None and have == calls:
        return tenant.id, None
    if tenant is not None:
        with db.engine.begin() as c:
            for table in ("leads", "turns", "call_events", "calls"):
                c.execute(text(f"DELETE FROM {table} WHERE tenant_id = :t"), {"t": tenant.id})
    tenant_id = TenantService(db).upsert(
        parse_spec({"slug": "bench-admin", "name": "Bench Immobiliare",
                    "numbers": ["+390200000002"]})
    )  # fmt: skip
    started = time.perf_counter()
    generate(
        db,
        GenerateSpec(tenant_id=tenant_id, calls=calls, end=datetime.now(ZoneInfo(TZ)).date(),
                     days=365, transcripts=True, did="+390200000002"),
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


def run_backend(name: str, db: Database, calls: int, repeat: int) -> dict[str, Any]:
    tenant_id, gen_s = _prepare(db, calls)
    config = Config(
        {"paths": {"runtime_dir": str(CACHE / "runtime")},
         "admin": {"secret_key": secrets.token_hex(32)}},
        environ={},
    )  # fmt: skip
    services = build_services(config, db)
    email = f"bench-{secrets.token_hex(4)}@example.it"
    with db.session() as s:
        s.execute(delete(User).where(User.email.like("bench-%@example.it")))
    services.accounts.create_user(email, "agency_admin", tenant_id, PASSWORD)
    app = create_app(config, services)
    client = app.test_client()
    import re

    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text)
    assert token
    r = client.post("/login", data={"email": email, "password": PASSWORD,
                                    "csrf_token": token.group(1)})  # fmt: skip
    assert r.status_code == 302, r.status_code
    with db.session() as s:
        newest = s.scalar(
            select(Call.id).where(Call.tenant_id == tenant_id).order_by(Call.started_at.desc())
        )
    today = datetime.now(ZoneInfo(TZ)).date()
    month = f"from={today - timedelta(days=29)}&to={today}"
    pages = {
        "dashboard": "/",
        "call log, first page": "/calls/",
        "call log, page 200": "/calls/?page=200",
        "filter: lead quality high": "/calls/?quality=high",
        "filter: outcome + last 30 days": f"/calls/?outcome=lead&{month}",
        "filter: caller number": "/calls/?caller=3401",
        "filter: text in transcripts": "/calls/?q=trilocale",
        "filter: text, no match": "/calls/?q=zzzzqqq",
        "call detail": f"/calls/{newest}",
        "CSV export, last 30 days": f"/calls/export.csv?{month}",
        "client list (30-day stats)": "/clients/",
    }
    timings: dict[str, float] = {}
    sizes: dict[str, int] = {}
    for label, path in pages.items():
        first = client.get(path)
        assert first.status_code == 200, (path, first.status_code)
        sizes[label] = len(first.data)
        timings[label] = round(_median(lambda p=path: client.get(p).data, repeat), 4)
    with db.session() as s:
        turns = s.execute(text("SELECT count(*) FROM turns WHERE tenant_id = :t"),
                          {"t": tenant_id}).scalar()  # fmt: skip
    services.close()
    return {
        "backend": name,
        "calls": calls,
        "turns": int(turns or 0),
        "generated_s": round(gen_s, 1) if gen_s else None,
        "pages_s": timings,
        "bytes": sizes,
    }


def _pg_database(calls: int) -> Database | None:
    name = f"centralino_bench_admin_{calls}"
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 3})  # fmt: skip
        with admin.connect() as c:
            exists = c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                               {"n": name}).scalar()  # fmt: skip
            if not exists:
                c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:
        print(f"PostgreSQL not reachable at {PG_ADMIN}: {exc}")
        return None
    return Database(PG_ADMIN.rsplit("/", 1)[0] + "/" + name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            CACHE.mkdir(parents=True, exist_ok=True)
            db: Database | None = Database(f"sqlite:///{CACHE / f'admin-{args.calls}.db'}")
        elif backend == "postgres":
            db = _pg_database(args.calls)
        else:
            parser.error(f"unknown backend {backend}")
        if db is None:
            continue
        print(f"[{backend}] preparing {args.calls} calls (cached after the first run)...",
              flush=True)  # fmt: skip
        results.append(run_backend(backend, db, args.calls, args.repeat))
        db.dispose()

    print(f"\nWeb admin pages, {args.calls:,} calls over 12 months, one agency - {machine_line()}")
    for r in results:
        gen = f", generated in {r['generated_s']} s" if r["generated_s"] else ", cached data"
        print(f"\n{r['backend']}: {r['calls']:,} calls, {r['turns']:,} turns{gen}")
        print(f"  {'page (median of ' + str(args.repeat) + ')':<36} {'seconds':>9}  < {TARGET_S} s")
        for page, seconds in r["pages_s"].items():
            ok = "yes" if seconds < TARGET_S else "NO"
            if page.startswith("CSV"):
                ok = "(download, no target)"
            print(f"  {page:<36} {seconds:>9.3f}  {ok}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"machine": machine_info(), "calls": args.calls, "target_s": TARGET_S,
               "results": results}  # fmt: skip
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
