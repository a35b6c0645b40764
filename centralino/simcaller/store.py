"""Find the call the platform stored for a simulated call (by SIP Call-ID)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from centralino.calls.models import Call
from centralino.db.session import Database
from centralino.tenants.models import Tenant

_FIELDS = (
    "id",
    "tenant_id",
    "channel_id",
    "sip_call_id",
    "caller_id",
    "caller_name",
    "did",
    "started_at",
    "answered_at",
    "ended_at",
    "duration_s",
    "state",
    "outcome",
    "hangup_cause",
    "hangup_code",
    "recording_path",
    "caller_audio_s",
    "simulated",
)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def call_as_dict(db: Database, sip_call_id: str) -> dict[str, Any] | None:
    with db.session() as s:
        call = s.scalars(
            select(Call).where(Call.sip_call_id == sip_call_id).order_by(Call.started_at.desc())
        ).first()
        if call is None:
            return None
        data = {f: _jsonable(getattr(call, f)) for f in _FIELDS}
        data["tenant_slug"] = None
        if call.tenant_id is not None:
            tenant = s.get(Tenant, call.tenant_id)
            data["tenant_slug"] = tenant.slug if tenant else None
        data["turns"] = [
            {"index": t.index, "speaker": t.speaker, "text": t.text} for t in call.turns
        ]
        data["events"] = [e.kind for e in call.events]
        return data


def wait_for_call(
    db: Database, sip_call_id: str, wait_s: float = 5.0, poll_s: float = 0.2
) -> tuple[dict[str, Any] | None, str]:
    """Poll until the row exists and is ended (blocking: run it in a thread).

    Returns (row, problem); the row may be returned not yet ended, with a problem.
    """
    deadline = time.monotonic() + wait_s
    row: dict[str, Any] | None = None
    while True:
        try:
            row = call_as_dict(db, sip_call_id)
        except SQLAlchemyError as exc:
            return (
                None,
                f"cannot read the calls table: {exc.__class__.__name__}: {exc}".splitlines()[0],
            )
        if row is not None and row.get("ended_at"):
            return row, ""
        if time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    if row is None:
        return None, f"no stored call with sip_call_id {sip_call_id!r} after {wait_s:.1f} s"
    return row, f"stored call not ended after {wait_s:.1f} s"
