"""Lead delivery benchmark: storing leads with their outbox rows, and dispatch throughput.

* ``save_from_call``: leads per second written with score + 4 outbox rows each.
* dispatch: outbox rows per second delivered by one in-process dispatcher to a local
  signed-webhook receiver (aiohttp on 127.0.0.1, answering at once), i.e. the
  overhead of claiming, sending and marking, without a provider's latency.

Runs on SQLite (a temp file) and on PostgreSQL when reachable at
CENTRALINO_BENCH_PG_ADMIN_URL (default postgres@127.0.0.1:5432; a temporary
database is created and dropped).

Usage: python -m bench.delivery [--leads N] [--rows N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import create_engine, text

from bench.machine import machine_info, machine_line
from centralino.config import Config
from centralino.db.session import Database
from centralino.delivery.dispatcher import Dispatcher
from centralino.leads.service import LeadService
from centralino.tenants.service import TenantService, parse_spec

PG_ADMIN_URL = os.environ.get(
    "CENTRALINO_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SECRET = "bench-secret"


@contextmanager
def receiver() -> Iterator[tuple[str, list[int]]]:
    count = [0]

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        count[0] += 1
        return web.json_response({"ok": True})

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    port = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield f"http://127.0.0.1:{port}/hook", count
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@contextmanager
def databases(tmp: Path) -> Iterator[list[tuple[str, Database]]]:
    out = []
    sqlite = Database(f"sqlite:///{tmp / 'bench.db'}")
    sqlite.upgrade()
    out.append(("sqlite", sqlite))
    pg_name = f"centralino_bench_{uuid.uuid4().hex[:8]}"
    admin = None
    try:
        admin = create_engine(
            PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{pg_name}"'))
        pg = Database(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + pg_name)
        pg.upgrade()
        out.append(("postgresql", pg))
    except Exception as exc:
        print(f"PostgreSQL not available ({type(exc).__name__}); SQLite only", file=sys.stderr)
        admin = None
    try:
        yield out
    finally:
        for _, db in out:
            db.dispose()
        if admin is not None:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            admin.dispose()


def run_backend(db: Database, url: str, leads: int, rows: int) -> dict[str, Any]:
    tenant = TenantService(db).upsert(
        parse_spec(
            {
                "slug": "bench",
                "name": "Bench",
                "numbers": ["+390200000001"],
                "settings": {
                    "delivery": {
                        "channels": ["webhook"],
                        "webhook": {"url": url, "secret": SECRET},
                        "crm": [{"type": "webhook", "url": url, "secret": SECRET}],
                    }
                },
            }
        )
    )
    cfg = Config({"delivery": {"batch_size": 50, "concurrency": 8}}, environ={})
    svc = LeadService(db, cfg)
    lead = {"name": "Mario Rossi", "phone": "3331112222", "budget_max": 450_000, "zone": "Brera"}
    started = time.perf_counter()
    for _ in range(leads):
        svc.save_from_call(tenant, None, {"lead": lead, "transcript": ["è urgente"]})
    save_s = time.perf_counter() - started
    # Top the outbox up to `rows` deliveries (2 per lead here).
    for _ in range(max(0, rows // 2 - leads)):
        svc.save_from_call(tenant, None, {"lead": lead})
    total = max(rows, leads * 2)

    async def drain() -> tuple[float, int]:
        async with Dispatcher(db, cfg, worker_id="bench", environ={}) as d:
            t0 = time.perf_counter()
            done = 0
            while done < total:
                stats = await d.run_once()
                if stats.claimed == 0:
                    break
                done += stats.delivered
            return time.perf_counter() - t0, done

    dispatch_s, delivered = asyncio.run(drain())
    return {
        "leads": leads,
        "save_from_call_per_s": round(leads / save_s, 1),
        "save_from_call_ms": round(save_s / leads * 1000, 2),
        "rows": total,
        "delivered": delivered,
        "dispatch_rows_per_s": round(delivered / dispatch_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.delivery")
    ap.add_argument("--leads", type=int, default=300)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=Path("bench-results/delivery.json"))
    args = ap.parse_args(argv)
    results: dict[str, Any] = {"machine": machine_info(), "backends": {}}
    with (
        tempfile.TemporaryDirectory() as tmp,
        receiver() as (url, count),
        databases(Path(tmp)) as dbs,
    ):
        for name, db in dbs:
            results["backends"][name] = run_backend(db, url, args.leads, args.rows)
        results["received"] = count[0]
    print(f"machine: {machine_line()}")
    print(
        f"{'backend':<12}{'save_from_call/s':>18}{'ms/lead':>10}{'rows':>8}{'dispatch rows/s':>18}"
    )
    for name, r in results["backends"].items():
        print(
            f"{name:<12}{r['save_from_call_per_s']:>18}{r['save_from_call_ms']:>10}"
            f"{r['rows']:>8}{r['dispatch_rows_per_s']:>18}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    ok = all(r["delivered"] == r["rows"] for r in results["backends"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
