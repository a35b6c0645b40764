"""Crash and concurrency tests with real dispatcher processes (``centralino deliver run``).

The providers are the local servers of tests/delivery/fakes.py (documented
WhatsApp Cloud API, Salesforce, Pipedrive endpoints and our signed webhook).

Crash test: the dispatcher is SIGKILLed by the provider server itself right after
the provider has acted on a request and before the answer reaches the dispatcher,
i.e. between "sent" and "marked delivered", many times in a loop, restarting it each
time. Afterwards every lead must have reached every target at least once, nothing
is lost or dead, targets with idempotency (webhook key, Salesforce upsert) hold
exactly one copy, and the duplicates on targets without it (WhatsApp, Pipedrive)
are counted.

Concurrency test: two dispatcher processes drain the same outbox on SQLite and on
PostgreSQL; the receiver checks that no idempotency key is ever in flight twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from centralino.config import Config
from centralino.db.session import Database
from centralino.delivery.models import Delivery
from centralino.leads.service import LeadService

from .fakes import PipedriveFake, Received, SalesforceFake, WebhookReceiver, WhatsAppFake
from .helpers import call_result, make_tenant

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def write_config(path: Path, whatsapp: WhatsAppFake | None, lease_s: float) -> Path:
    lines = [
        "[delivery]",
        'admin_base_url = "https://admin.example.it"',
        f"lease_s = {lease_s}",
        "poll_interval_s = 0.1",
        "backoff_base_s = 0.2",
        "backoff_max_s = 1.0",
        "batch_size = 10",
        "concurrency = 4",
        "max_attempts = 50",
    ]
    if whatsapp is not None:
        lines += [
            "[whatsapp]",
            f'base_url = "{whatsapp.url}"',
            f'phone_number_id = "{whatsapp.phone_number_id}"',
            f'access_token = "{whatsapp.token}"',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def start_dispatcher(db: Database, config: Path, worker: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, DATABASE_URL=db.url)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "centralino.cli",
            "--config",
            str(config),
            "deliver",
            "run",
            "--worker-id",
            worker,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def status_counts(db: Database) -> Counter[str]:
    with db.session() as s:
        return Counter(
            dict(s.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
        )


@pytest.mark.slow
def test_crash_between_send_and_commit_loses_nothing(
    db: Database,
    tmp_path: Path,
    whatsapp: WhatsAppFake,
    salesforce: SalesforceFake,
    pipedrive: PipedriveFake,
    webhook: WebhookReceiver,
) -> None:
    n_leads, kills_per_target = 25, 6
    cfg = Config(
        {
            "delivery": {"admin_base_url": "https://admin.example.it"},
            "whatsapp": {
                "base_url": whatsapp.url,
                "phone_number_id": whatsapp.phone_number_id,
                "access_token": whatsapp.token,
            },
        },
        environ={},
    )
    tenant = make_tenant(
        db,
        {
            "channels": ["whatsapp", "webhook"],
            "whatsapp": {"recipients": ["+393330000001"]},
            "webhook": {"url": webhook.url + "/lead", "secret": webhook.secret},
            "crm": [
                {
                    "type": "salesforce",
                    "login_url": salesforce.url,
                    "client_id": salesforce.client_id,
                    "client_secret": salesforce.client_secret,
                },
                {
                    "type": "pipedrive",
                    "base_url": pipedrive.url + "/v1",
                    "api_token": pipedrive.api_token,
                },
            ],
        },
    )
    svc = LeadService(db, cfg)
    for i in range(n_leads):
        svc.save_from_call(tenant, None, call_result(name=f"Cliente Numero{i:03d}"))
    total_rows = n_leads * 4
    assert status_counts(db)["pending"] == total_rows

    config = write_config(tmp_path / "c.toml", whatsapp, lease_s=1.0)
    current: dict[str, subprocess.Popen[bytes] | None] = {"proc": None}
    kills: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    guard = threading.Lock()

    def killer(name: str, is_effect: Any) -> Any:
        def after_effect(rec: Received) -> None:
            if not is_effect(rec):
                return
            with guard:
                seen[name] += 1
                proc = current["proc"]
                if (
                    proc is None
                    or proc.poll() is not None
                    or kills[name] >= kills_per_target
                    or seen[name] % 2
                ):
                    return
                kills[name] += 1
                # The provider acted; the dispatcher dies before it hears back.
                proc.send_signal(signal.SIGKILL)
                proc.wait()

        return after_effect

    whatsapp.after_effect = killer("whatsapp", lambda r: True)
    webhook.after_effect = killer("webhook", lambda r: True)
    salesforce.after_effect = killer("salesforce", lambda r: r.method == "PATCH")
    pipedrive.after_effect = killer("pipedrive", lambda r: r.path == "/v1/leads")

    restarts = 0
    deadline = time.monotonic() + 240
    t0 = time.monotonic()
    while time.monotonic() < deadline:
        proc = start_dispatcher(db, config, f"crash-{restarts}")
        with guard:
            current["proc"] = proc
        while proc.poll() is None and status_counts(db)["delivered"] < total_rows:
            time.sleep(0.1)
        if status_counts(db)["delivered"] == total_rows:
            with guard:
                current["proc"] = None
            proc.terminate()
            proc.wait(10)
            break
        assert proc.returncode == -signal.SIGKILL, (
            proc.stderr.read().decode() if proc.stderr else ""
        )
        restarts += 1
    elapsed = time.monotonic() - t0

    counts = status_counts(db)
    assert counts == Counter({"delivered": total_rows}), counts
    assert sum(kills.values()) == restarts == 4 * kills_per_target

    # Idempotent targets: exactly one copy per lead, resends recognised.
    assert len(webhook.processed) == n_leads
    assert len(salesforce.leads) == n_leads
    # Non-idempotent targets: every lead at least once; the extra copies are counted.
    wa_names = Counter(
        m["template"]["components"][0]["parameters"][0]["text"] for m in whatsapp.messages
    )
    pd_titles = Counter(lead["title"].split(" – ")[0] for lead in pipedrive.leads.values())
    assert len(wa_names) == n_leads and len(pd_titles) == n_leads
    dup_wa = sum(wa_names.values()) - n_leads
    dup_pd = sum(pd_titles.values()) - n_leads
    # Each kill leaves its own request unmarked (and any others in flight in that process).
    assert dup_wa >= kills["whatsapp"] and dup_pd >= kills["pipedrive"]
    assert dup_wa + dup_pd <= sum(kills.values()) * 4
    report = {
        "backend": db.engine.dialect.name,
        "leads": n_leads,
        "rows": total_rows,
        "kills": dict(kills),
        "restarts": restarts,
        "webhook_replays_deduplicated": webhook.replays,
        "salesforce_upserts": salesforce.upserts,
        "salesforce_records": len(salesforce.leads),
        "whatsapp_messages": len(whatsapp.messages),
        "whatsapp_duplicates": dup_wa,
        "pipedrive_leads": len(pipedrive.leads),
        "pipedrive_duplicates": dup_pd,
        "lost": 0,
        "seconds": round(elapsed, 1),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"delivery-crash-{report['backend']}.json").write_text(
        json.dumps(report, indent=2)
    )
    print(json.dumps(report))


@pytest.mark.slow
def test_two_dispatchers_never_send_a_row_twice_concurrently(
    db: Database, tmp_path: Path, webhook: WebhookReceiver
) -> None:
    n = 240
    webhook.delay_s = 0.03  # widens the window in which a double claim would overlap
    tenant = make_tenant(
        db,
        {
            "channels": ["webhook"],
            "webhook": {"url": webhook.url + "/lead", "secret": webhook.secret},
        },
    )
    svc = LeadService(db, Config({}, environ={}))
    for i in range(n):
        svc.save_from_call(tenant, None, call_result(name=f"Cliente {i}"))
    config = write_config(tmp_path / "c.toml", None, lease_s=60)
    t0 = time.monotonic()
    procs = [start_dispatcher(db, config, f"w{i}") for i in range(2)]
    try:
        deadline = time.monotonic() + 180
        while status_counts(db)["delivered"] < n and time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs)
            time.sleep(0.1)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
    elapsed = time.monotonic() - t0
    assert status_counts(db) == Counter({"delivered": n})
    errors = [p.stderr.read().decode() if p.stderr else "" for p in procs]
    assert not any("Traceback" in e for e in errors), errors
    assert webhook.overlaps == 0
    assert webhook.replays == 0  # no crash, so no resend at all
    assert len(webhook.processed) == n
    assert sum(1 for r in webhook.requests) == n
    with db.session() as s:
        split = Counter(
            dict(
                s.execute(
                    select(Delivery.claimed_by, func.count()).group_by(Delivery.claimed_by)
                ).all()
            )
        )
    assert sum(split.values()) == n
    assert set(split) == {"w0", "w1"}  # both processes did work: claims interleave
    report = {
        "backend": db.engine.dialect.name,
        "rows": n,
        "split": dict(split),
        "seconds": round(elapsed, 2),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"delivery-concurrency-{report['backend']}.json").write_text(
        json.dumps(report, indent=2)
    )
    print(json.dumps(report))
