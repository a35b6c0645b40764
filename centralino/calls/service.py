"""Call storage. The pbx call session writes through this; the admin reads.

A call row is written at StasisStart and completed at hang-up, so a crash
mid-call leaves a visible row in state != "ended" that ``recover_stale``
closes on the next start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from centralino.calls.models import Call, CallEvent, Turn
from centralino.db.base import utcnow
from centralino.db.session import Database


@dataclass(frozen=True)
class CallStart:
    tenant_id: int | None
    channel_id: str
    caller_id: str
    did: str
    caller_name: str = ""
    sip_call_id: str = ""
    simulated: bool = False
    started_at: datetime | None = None


class CallStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, info: CallStart, outcome: str = "in_progress") -> str:
        with self.db.session() as s:
            call = Call(
                tenant_id=info.tenant_id,
                channel_id=info.channel_id,
                caller_id=info.caller_id,
                caller_name=info.caller_name,
                sip_call_id=info.sip_call_id,
                did=info.did,
                simulated=info.simulated,
                started_at=info.started_at or utcnow(),
                outcome=outcome,
                state="ringing",
            )
            s.add(call)
            s.flush()
            s.add(CallEvent(call_id=call.id, tenant_id=info.tenant_id, kind="start", data={}))
            return call.id

    def set_state(self, call_id: str, state: str, **fields: Any) -> None:
        with self.db.session() as s:
            s.execute(update(Call).where(Call.id == call_id).values(state=state, **fields))

    def answered(self, call_id: str, at: datetime | None = None) -> None:
        self.set_state(call_id, "greeting", answered_at=at or utcnow())

    def event(self, call_id: str, tenant_id: int | None, kind: str, **data: Any) -> None:
        with self.db.session() as s:
            s.add(CallEvent(call_id=call_id, tenant_id=tenant_id, kind=kind, data=data))

    def add_turn(
        self, call_id: str, tenant_id: int | None, speaker: str, text: str, **fields: Any
    ) -> int:
        with self.db.session() as s:
            count = len(s.scalars(select(Turn.id).where(Turn.call_id == call_id)).all())
            turn = Turn(
                call_id=call_id,
                tenant_id=tenant_id,
                index=count,
                speaker=speaker,
                text=text,
                **fields,
            )
            s.add(turn)
            s.flush()
            return turn.id

    def end(
        self,
        call_id: str,
        *,
        outcome: str | None = None,
        hangup_cause: str = "",
        hangup_code: int | None = None,
        ended_at: datetime | None = None,
        **fields: Any,
    ) -> None:
        with self.db.session() as s:
            call = s.get(Call, call_id)
            if call is None:
                return
            end = ended_at or utcnow()
            call.ended_at = end
            # Duration counts from answer (what the caller's phone shows), else from start.
            call.duration_s = (end - (call.answered_at or call.started_at)).total_seconds()
            call.state = "ended"
            if outcome:
                call.outcome = outcome
            elif call.outcome == "in_progress":
                call.outcome = "completed"
            call.hangup_cause = hangup_cause or call.hangup_cause
            if hangup_code is not None:
                call.hangup_code = hangup_code
            for key, value in fields.items():
                setattr(call, key, value)
            s.add(
                CallEvent(
                    call_id=call_id,
                    tenant_id=call.tenant_id,
                    kind="end",
                    data={"cause": hangup_cause, "code": hangup_code},
                )
            )

    def get(self, call_id: str) -> Call | None:
        with self.db.session() as s:
            return s.get(Call, call_id)

    def recover_stale(self) -> int:
        """Close calls left open by a crash (their channels no longer exist)."""
        with self.db.session() as s:
            stale = s.scalars(select(Call).where(Call.state != "ended")).all()
            for call in stale:
                call.state = "ended"
                call.outcome = "failed" if call.outcome == "in_progress" else call.outcome
                call.hangup_cause = call.hangup_cause or "controller restarted mid-call"
                s.add(
                    CallEvent(call_id=call.id, tenant_id=call.tenant_id, kind="recovered", data={})
                )
            return len(stale)
