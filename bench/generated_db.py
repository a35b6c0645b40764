"""Databases of generated calls, cached between benchmark runs, on SQLite and PostgreSQL.

Shared by ``bench.admin`` and ``bench.analytics`` (not a benchmark itself: no
main()): the common command-line options, one database per backend and call
count (a file in ``var/bench/``, or a PostgreSQL database next to the admin URL),
a bench tenant filled with a year of generated calls, and a median timer.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, func, select, text

from centralino.calls.models import Call
from centralino.db.session import Database
from centralino.demo.generate import GenerateSpec, generate
from centralino.tenants.models import Tenant
from centralino.tenants.service import TenantService, parse_spec

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "bench"
PG_ADMIN = os.environ.get(
    "CENTRALINO_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TZ = "Europe/Rome"
# Every table with a bench tenant's rows, children first (a new generation starts empty).
TENANT_TABLES = ("analytics_days", "call_sentiments", "leads", "turns", "call_events", "calls")


def argument_parser(
    name: str, *, calls: int, repeat: int, description: str | None = None
) -> argparse.ArgumentParser:
    """``--calls``, ``--backends``, ``--repeat`` and ``--out`` (bench-results/NAME.json)."""
    p = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=description)
    p.add_argument("--calls", type=int, default=calls)
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--repeat", type=int, default=repeat)
    p.add_argument("--out", type=Path, default=ROOT / "bench-results" / f"{name}.json")
    return p


def databases(
    parser: argparse.ArgumentParser, args: argparse.Namespace, sqlite_file: str, pg_name: str
) -> Iterator[tuple[str, Database]]:
    """(backend, database) for each of ``--backends``, disposed after its turn.

    An unreachable PostgreSQL is said and skipped; an unknown backend is a usage error.
    """
    for backend in args.backends.split(","):
        if backend == "sqlite":
            CACHE.mkdir(parents=True, exist_ok=True)
            db: Database | None = Database(f"sqlite:///{CACHE / sqlite_file}")
        elif backend == "postgres":
            db = _pg_database(pg_name)
        else:
            parser.error(f"unknown backend {backend}")
        if db is None:
            continue
        print(
            f"[{backend}] preparing {args.calls} calls (cached after the first run)...", flush=True
        )
        try:
            yield backend, db
        finally:
            db.dispose()


def _pg_database(name: str) -> Database | None:
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 3})  # fmt: skip
        with admin.connect() as c:
            exists = c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if exists.scalar() is None:
                c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:
        print(f"PostgreSQL not reachable at {PG_ADMIN}: {exc}")
        return None
    return Database(PG_ADMIN.rsplit("/", 1)[0] + "/" + name)


def generated_tenant(
    db: Database, tenant: dict[str, Any], calls: int, regenerate: bool = False, **spec: Any
) -> tuple[int, float | None]:
    """The id of the tenant ``tenant`` (a tenant spec) holding ``calls`` generated calls
    over the 365 days up to today, and the generation time (None: already there).

    ``spec`` goes to GenerateSpec (transcripts, chunk, did...).
    """
    db.upgrade()
    with db.session() as s:
        existing = s.scalar(select(Tenant).where(Tenant.slug == tenant["slug"]))
        have = (
            s.scalar(select(func.count()).select_from(Call).where(Call.tenant_id == existing.id))
            if existing
            else 0
        )
    if existing is not None and have == calls and not regenerate:
        return existing.id, None
    if existing is not None:
        with db.engine.begin() as c:
            for table in TENANT_TABLES:
                c.execute(text(f"DELETE FROM {table} WHERE tenant_id = :t"), {"t": existing.id})
    tenant_id = TenantService(db).upsert(parse_spec(tenant))
    started = time.perf_counter()
    end = datetime.now(ZoneInfo(TZ)).date()
    generate(db, GenerateSpec(tenant_id=tenant_id, calls=calls, end=end, days=365, **spec))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("ANALYZE"))
    return tenant_id, time.perf_counter() - started


def median_s(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls of ``fn``, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
