"""Scheduled jobs: the scheduler lease, two real `centralino jobs run` processes,
recording retention, the daily summary email (real aiosmtpd) and the backup job."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, inspect, select, text

from centralino.calls.models import Call, CallEvent
from centralino.config import Config
from centralino.db.session import Database
from centralino.delivery.dispatcher import Dispatcher
from centralino.delivery.models import Delivery
from centralino.delivery.outbox import Outbox
from centralino.delivery.settings import DeliverySettings
from centralino.jobs import tasks
from centralino.jobs.lease import LeaderLease
from centralino.leads.service import LeadService

from .conftest import Clock, delivery_config
from .fakes import SmtpFake, WebhookReceiver
from .helpers import call_result, make_call, make_tenant


def test_lease_has_one_holder_and_is_taken_over_after_expiry(db: Database, clock: Clock) -> None:
    a = LeaderLease(db, "scheduler", "a", ttl_s=30, clock=clock)
    b = LeaderLease(db, "scheduler", "b", ttl_s=30, clock=clock)
    assert a.acquire() is True
    assert b.acquire() is False
    clock.advance(20)
    assert a.renew() is True  # renewal pushes expiry to +30 s from now
    clock.advance(20)
    assert b.acquire() is False
    holder, expires = a.current()
    assert holder == "a" and expires == clock.now + timedelta(seconds=10)
    clock.advance(11)  # a died and stopped renewing
    assert b.acquire() is True
    assert a.renew() is False
    b.release()
    assert a.acquire() is True


def _start_jobs(db: Database, conf: Path, holder: str, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, DATABASE_URL=db.url)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "centralino.cli",
            "--config",
            str(conf),
            "jobs",
            "run",
            "--holder",
            holder,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def _delivered(db: Database) -> int:
    with db.session() as s:
        return int(
            s.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.status == "delivered")
            )
            or 0
        )


def _wait(cond: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_two_scheduler_processes_one_active_then_failover(
    db: Database, tmp_path: Path, webhook: WebhookReceiver
) -> None:
    """Two real processes start the scheduler; one runs jobs, the other takes over when it dies."""
    conf = tmp_path / "c.toml"
    conf.write_text(
        f'[paths]\nruntime_dir = "{tmp_path / "var"}"\n'
        "[jobs]\nlease_ttl_s = 1.5\ndispatch_interval_s = 0.3\n"
        "[delivery]\nlease_s = 2\n"
    )
    tenant = make_tenant(
        db,
        {"channels": ["webhook"], "webhook": {"url": webhook.url + "/h", "secret": webhook.secret}},
    )
    svc = LeadService(db, Config({}, environ={}))
    for i in range(5):
        svc.save_from_call(tenant, None, call_result(name=f"Primo {i}"))
    logs = {h: tmp_path / f"{h}.log" for h in ("p0", "p1")}
    procs = {h: _start_jobs(db, conf, h, logs[h]) for h in ("p0", "p1")}
    try:
        _wait(lambda: _delivered(db) == 5)
        lease = LeaderLease(db, "scheduler", "-")
        leader, _ = lease.current()
        standby = "p1" if leader == "p0" else "p0"
        assert leader in procs
        time.sleep(1.0)  # a few more lease rounds: still one active scheduler
        active = [h for h in procs if "is the active scheduler" in logs[h].read_text()]
        assert active == [leader]
        with db.engine.connect() as c:
            jobs = sorted(r[0] for r in c.execute(text("SELECT id FROM apscheduler_jobs")))
        assert jobs == [
            "classify_sentiment",
            "daily_backup",
            "daily_summaries",
            "dispatch_outbox",
            "refresh_analytics",
            "retention_cleanup",
        ]
        assert "apscheduler_jobs" in inspect(db.engine).get_table_names()

        procs[leader].send_signal(signal.SIGKILL)
        procs[leader].wait()
        for i in range(5):
            svc.save_from_call(tenant, None, call_result(name=f"Secondo {i}"))
        _wait(lambda: _delivered(db) == 10)
        assert lease.current()[0] == standby
        assert "is the active scheduler" in logs[standby].read_text()
        assert len(webhook.processed) == 10
        assert webhook.overlaps == 0
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
                p.wait(10)


def test_recording_retention_per_tenant(db: Database, tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    cfg = Config(
        {"paths": {"runtime_dir": str(tmp_path / "var"), "recordings_dir": str(rec)}}, environ={}
    )
    short = make_tenant(db, {}, settings={"retention": {"recordings_days": 30}})
    default = make_tenant(db, {})
    outside = tmp_path / "outside.wav"
    outside.write_bytes(b"not ours")
    now = Clock().now
    made: dict[tuple[int, int], Path] = {}
    with db.session() as s:
        for tenant in (short, default):
            for age in (100, 45, 1):
                call = Call(
                    tenant_id=tenant,
                    started_at=now - timedelta(days=age),
                    recording_path=f"{tenant}/{age}.wav",
                )
                (rec / str(tenant)).mkdir(parents=True, exist_ok=True)
                (rec / call.recording_path).write_bytes(b"RIFF")
                s.add(call)
                made[(tenant, age)] = rec / call.recording_path
        s.add(
            Call(
                tenant_id=default, started_at=now - timedelta(days=200), recording_path=str(outside)
            )
        )
    tasks.CONTEXTS["t"] = tasks.JobContext(db, cfg)
    report = tasks.retention_cleanup("t", now=now)
    assert report == {"deleted": 3, "missing": 0, "refused": 1}
    kept = {key for key, path in made.items() if path.exists()}
    assert kept == {(short, 1), (default, 45), (default, 1)}
    assert outside.exists()  # never delete outside the recordings folder
    with db.session() as s:
        cleared = s.scalar(select(func.count()).select_from(Call).where(Call.recording_path == ""))
        events = s.scalars(select(CallEvent).where(CallEvent.kind == "recording_deleted")).all()
    assert cleared == 3 and len(events) == 3
    # Running it again changes nothing.
    assert tasks.retention_cleanup("t", now=now) == {"deleted": 0, "missing": 0, "refused": 1}


def test_daily_summary_email(db: Database, smtp: SmtpFake, clock: Clock) -> None:
    cfg = delivery_config(smtp=smtp)
    tenant = make_tenant(
        db, {"channels": ["email"], "email": {"recipients": ["titolare@agenzia.it"]}}
    )
    quiet = make_tenant(db, {})  # no recipients: no summary
    svc = LeadService(db, cfg)
    call = make_call(db, tenant)
    svc.save_from_call(tenant, call, call_result())
    svc.save_from_call(
        tenant,
        None,
        call_result(
            name="Anna Bianchi", budget_min=None, budget_max=200_000, zone="Lorenteggio", urgency=""
        ),
    )
    tasks.CONTEXTS["s"] = tasks.JobContext(db, cfg)
    assert tasks.daily_summaries("s", now=clock.now) == {"queued": 1}
    assert tasks.daily_summaries("s", now=clock.now) == {"queued": 0}  # once per day

    async def send() -> None:
        outbox = Outbox(db, cfg.section("delivery", DeliverySettings), clock=clock)
        async with Dispatcher(db, cfg, environ={}, outbox=outbox) as d:
            await d.run_once()

    asyncio.run(send())
    subjects = [m["Subject"] for m in smtp.messages]
    summary = next(m for m in smtp.messages if str(m["Subject"]).startswith("Riepilogo"))
    assert len(subjects) == 3  # two lead emails + the summary
    day = clock.now.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Rome")).strftime("%d/%m/%Y")
    assert summary["Subject"] == f"Riepilogo del {day}: 2 nuovi contatti, 1 chiamate"
    body = summary.get_body(preferencelist=("plain",)).get_content()
    first, second = body.index("Mario Rossi"), body.index("Anna Bianchi")
    assert first < second  # highest score first
    assert f"https://admin.example.it/calls/{call}" in body
    with db.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(Delivery).where(Delivery.tenant_id == quiet))
            == 0
        )


def test_backup_job_uses_backup_code(sqlite_db: Database, tmp_path: Path) -> None:
    cfg = Config(
        {
            "paths": {"runtime_dir": str(tmp_path / "var")},
            "backup": {"target_dir": str(tmp_path / "bk")},
        },
        environ={},
    )
    tasks.CONTEXTS["b"] = tasks.JobContext(sqlite_db, cfg)
    result = tasks.daily_backup("b")
    assert Path(result["archive"]).parent == tmp_path / "bk" and Path(result["archive"]).is_file()
