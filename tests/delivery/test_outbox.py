"""Outbox claiming: batch limits, row locks skipped on PostgreSQL, fencing of late marks."""

from __future__ import annotations

import threading

from sqlalchemy import select, text

from centralino.db.session import Database
from centralino.delivery.errors import SendError
from centralino.delivery.models import Delivery
from centralino.delivery.outbox import Outbox
from centralino.delivery.settings import DeliverySettings
from centralino.leads.service import LeadService

from .conftest import Clock
from .helpers import call_result, make_tenant


def _rows(db: Database, n: int) -> int:
    tenant = make_tenant(db, {"crm": [{"type": "pipedrive", "api_token": "x"}]})
    svc = LeadService(db)
    for i in range(n):
        svc.save_from_call(tenant, None, call_result(name=f"Cliente {i}"))
    return tenant


def test_claim_respects_batch_and_never_hands_out_a_row_twice(db: Database, clock: Clock) -> None:
    _rows(db, 25)
    outbox = Outbox(db, DeliverySettings(batch_size=10, lease_s=60), clock=clock)
    a = outbox.claim("a")
    b = outbox.claim("b")
    c = outbox.claim("c")
    assert [len(a), len(b), len(c)] == [10, 10, 5]
    ids = [j.id for j in a + b + c]
    assert len(set(ids)) == 25
    assert outbox.claim("d") == []
    assert all(j.attempts == 1 for j in a)


def test_claim_skips_rows_locked_by_another_transaction(db: Database, clock: Clock) -> None:
    """On PostgreSQL a claim in progress elsewhere (row locks) is skipped, not waited for."""
    if db.is_sqlite:
        return  # SQLite has no row locks; covered by the test above and the process test
    _rows(db, 20)
    outbox = Outbox(db, DeliverySettings(batch_size=10), clock=clock)
    with db.engine.connect() as other:
        tx = other.begin()
        locked = [
            r[0]
            for r in other.execute(
                text("SELECT id FROM deliveries ORDER BY id LIMIT 10 FOR UPDATE")
            )
        ]
        result: dict[str, list[int]] = {}
        worker = threading.Thread(
            target=lambda: result.setdefault("ids", [j.id for j in outbox.claim("b")])
        )
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "claim blocked on locked rows"
        tx.rollback()
    assert len(result["ids"]) == 10 and not set(result["ids"]) & set(locked)


def test_expired_lease_is_reclaimed_and_late_mark_is_fenced(db: Database, clock: Clock) -> None:
    _rows(db, 1)
    outbox = Outbox(db, DeliverySettings(lease_s=60), clock=clock)
    (first,) = outbox.claim("slow")
    assert outbox.claim("other") == []  # leased
    clock.advance(61)
    (second,) = outbox.claim("other")
    assert second.id == first.id and second.attempts == 2
    # The slow worker answers late: its mark is refused, the new claim wins.
    assert outbox.mark_delivered(first, "late") is False
    assert outbox.mark_failed(first, SendError("late", retryable=True)) == "lost"
    assert outbox.mark_delivered(second, "ok") is True
    with db.session() as s:
        row = s.scalar(select(Delivery))
        assert row is not None and row.status == "delivered" and row.external_id == "ok"
