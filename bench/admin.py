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

import json
import re
import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, text

from admin_web.app import create_app
from admin_web.services import build_services
from bench.generated_db import (
    CACHE,
    TZ,
    argument_parser,
    databases,
    generated_tenant,
    median_s,
)
from bench.machine import machine_info, machine_line
from centralino.accounts.models import User
from centralino.calls.models import Call
from centralino.config import Config
from centralino.db.session import Database

PASSWORD = "bench-password-" + secrets.token_hex(4)
# What a page should take to feel immediate on the office server.
TARGET_S = 0.5
TENANT = {"slug": "bench-admin", "name": "Bench Immobiliare", "numbers": ["+390200000002"]}


def run_backend(name: str, db: Database, calls: int, repeat: int) -> dict[str, Any]:
    did = TENANT["numbers"][0]
    tenant_id, gen_s = generated_tenant(db, TENANT, calls, transcripts=True, did=did)
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
        timings[label] = round(median_s(lambda p=path: client.get(p).data, repeat), 4)
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


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("admin", calls=100_000, repeat=5,
                             description=__doc__.splitlines()[0])  # fmt: skip
    args = parser.parse_args(argv)
    results = [
        run_backend(backend, db, args.calls, args.repeat)
        for backend, db in databases(parser, args, f"admin-{args.calls}.db",
                                     f"centralino_bench_admin_{args.calls}")
    ]  # fmt: skip

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
