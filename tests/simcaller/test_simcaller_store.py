"""Looking up the stored call of a simulated call by its SIP Call-ID (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from centralino.calls.models import Call, Turn
from centralino.db.session import Database
from centralino.simcaller import place_call
from centralino.simcaller.sipp import SippServer
from centralino.simcaller.store import wait_for_call
from centralino.tenants.models import Tenant


def _add_call(db: Database, sip_call_id: str, ended: bool) -> str:
    with db.session() as s:
        tenant = Tenant(slug="demo", name="Immobiliare Demo")
        s.add(tenant)
        s.flush()
        call = Call(
            tenant_id=tenant.id,
            sip_call_id=sip_call_id,
            caller_id="+393331234567",
            did="+390212345678",
            state="ended" if ended else "listening",
            outcome="completed" if ended else "in_progress",
            ended_at=datetime.now(UTC) if ended else None,
            duration_s=12.5 if ended else None,
        )
        s.add(call)
        s.flush()
        s.add(
            Turn(call_id=call.id, tenant_id=tenant.id, index=0, speaker="agent", text="Buongiorno")
        )
        return call.id


def test_wait_for_call_returns_the_ended_row(db: Database) -> None:
    call_id = _add_call(db, "abc@127.0.0.1", ended=True)
    row, problem = wait_for_call(db, "abc@127.0.0.1", wait_s=1.0)
    assert problem == ""
    assert row is not None and row["id"] == call_id
    assert row["tenant_slug"] == "demo" and row["caller_id"] == "+393331234567"
    assert row["duration_s"] == 12.5 and isinstance(row["ended_at"], str)
    assert row["turns"] == [{"index": 0, "speaker": "agent", "text": "Buongiorno"}]


def test_wait_for_call_waits_for_the_row_to_end(db: Database) -> None:
    _add_call(db, "late@127.0.0.1", ended=False)

    def end_it() -> None:
        time.sleep(0.5)
        with db.session() as s:
            call = s.query(Call).filter_by(sip_call_id="late@127.0.0.1").one()
            call.ended_at = datetime.now(UTC)
            call.state = "ended"

    t = threading.Thread(target=end_it)
    t.start()
    row, problem = wait_for_call(db, "late@127.0.0.1", wait_s=5.0, poll_s=0.05)
    t.join()
    assert problem == "" and row is not None and row["state"] == "ended"


def test_wait_for_call_reports_missing_or_unfinished_rows(db: Database) -> None:
    row, problem = wait_for_call(db, "nobody@127.0.0.1", wait_s=0.2, poll_s=0.05)
    assert row is None and "no stored call" in problem
    _add_call(db, "open@127.0.0.1", ended=False)
    row, problem = wait_for_call(db, "open@127.0.0.1", wait_s=0.2, poll_s=0.05)
    assert row is not None and "not ended" in problem


def test_wait_for_call_on_an_unmigrated_database(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    row, problem = wait_for_call(db, "x", wait_s=0.1)
    db.dispose()
    assert row is None and "cannot read the calls table" in problem


async def test_place_call_looks_up_the_stored_call(
    uas: Callable[..., SippServer], sqlite_db: Database
) -> None:
    """Nothing stores SIPp's calls: the report says so instead of failing."""
    server = uas("uas")
    report = await place_call(
        "+390212345678",
        port=server.port,
        script={"hangup_after_ms": 100},
        database=sqlite_db,
        store_wait_s=0.5,
    )
    server.wait(20)
    assert report.ok and report.stored_call is None
    assert report.call_id in report.stored_call_error
