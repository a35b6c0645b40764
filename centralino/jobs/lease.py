"""A lease row that makes one process "the" scheduler among many.

Taking the lease is one conditional UPDATE (holder is me, or the lease has
expired), which the database serialises on both SQLite and PostgreSQL; the first
ever acquirer INSERTs the row (a concurrent INSERT loses on the primary key).
The holder renews it well before expiry; a holder that cannot renew stops its
scheduler, and another process takes over once the lease has expired.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import case, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from centralino.db.base import UTCDateTime, utcnow
from centralino.db.session import Database
from centralino.delivery.models import SchedulerLease

log = logging.getLogger(__name__)


class LeaderLease:
    def __init__(
        self,
        db: Database,
        name: str,
        holder: str,
        ttl_s: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.name = name
        self.holder = holder
        self.ttl_s = ttl_s
        self._clock = clock

    def acquire(self) -> bool:
        """Take or renew the lease; True if this holder has it now."""
        now = self._clock()
        until = now + timedelta(seconds=self.ttl_s)
        with self.db.session() as s:
            res = s.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.name == self.name,
                    or_(
                        SchedulerLease.holder == self.holder,
                        SchedulerLease.expires_at.is_(None),
                        SchedulerLease.expires_at < now,
                    ),
                )
                .values(
                    holder=self.holder,
                    expires_at=until,
                    # A renewal keeps the time the lease was first taken.
                    acquired_at=case(
                        (SchedulerLease.holder == self.holder, SchedulerLease.acquired_at),
                        else_=literal(now, UTCDateTime()),
                    ),
                )
                .execution_options(synchronize_session=False)
            )
            if res.rowcount == 1:  # type: ignore[attr-defined]
                return True
            if s.scalar(select(SchedulerLease.name).where(SchedulerLease.name == self.name)):
                return False
        try:
            with self.db.session() as s:
                s.add(
                    SchedulerLease(
                        name=self.name, holder=self.holder, acquired_at=now, expires_at=until
                    )
                )
            return True
        except IntegrityError:
            return False  # another process created it first

    renew = acquire

    def release(self) -> None:
        with self.db.session() as s:
            s.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                .values(expires_at=None, holder="", acquired_at=None)
                .execution_options(synchronize_session=False)
            )

    def current(self) -> tuple[str, datetime | None]:
        with self.db.session() as s:
            row = s.get(SchedulerLease, self.name)
            return (row.holder, row.expires_at) if row else ("", None)
