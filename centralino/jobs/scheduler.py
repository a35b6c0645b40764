"""The job runner: holds the scheduler lease, and only then runs APScheduler.

Every process may start a runner (``centralino jobs run``, or the platform
launcher); they compete for the ``scheduler`` lease row and exactly one runs
APScheduler at a time. The jobs live in the ``apscheduler_jobs`` table of our
database (SQLAlchemyJobStore), so a new leader continues the same schedule
(next run times included) after the old one died.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from centralino.config import Config
from centralino.db.session import Database
from centralino.jobs.lease import LeaderLease
from centralino.jobs.tasks import CONTEXTS, JobContext, JobsSettings

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
JOBSTORE_TABLE = "apscheduler_jobs"


def _cron(hhmm: str, tz: str) -> CronTrigger:
    hour, minute = hhmm.split(":")
    return CronTrigger(hour=int(hour), minute=int(minute), timezone=tz)


class JobRunner:
    def __init__(
        self,
        db: Database,
        config: Config,
        *,
        holder: str | None = None,
        context: str = "default",
    ) -> None:
        self.db = db
        self.config = config
        self.settings = config.section("jobs", JobsSettings)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.context = context
        self.lease = LeaderLease(db, LEASE_NAME, self.holder, self.settings.lease_ttl_s)
        self.scheduler: BackgroundScheduler | None = None

    @property
    def is_leader(self) -> bool:
        return self.scheduler is not None

    def _start_scheduler(self) -> None:
        CONTEXTS[self.context] = JobContext(self.db, self.config)
        s = self.settings
        self.scheduler = scheduler = BackgroundScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=self.db.engine, tablename=JOBSTORE_TABLE)
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone=s.timezone,
        )
        scheduler.start(paused=True)
        # (callable, trigger, id, name shown in the admin). Analytics: sentiment of the calls
        # that ended, and the nightly refresh of the stored daily summaries (so a long
        # report never computes a year inside a request).
        jobs = [
            ("centralino.jobs.tasks:dispatch_outbox",
             IntervalTrigger(seconds=s.dispatch_interval_s),
             "dispatch_outbox", "Invio consegne in coda"),
            ("centralino.jobs.tasks:daily_backup", _cron(s.backup_time, s.timezone),
             "daily_backup", "Backup giornaliero"),
            ("centralino.jobs.tasks:retention_cleanup", _cron(s.retention_time, s.timezone),
             "retention_cleanup", "Cancellazione registrazioni scadute"),
            ("centralino.jobs.tasks:daily_summaries", _cron(s.summary_time, s.timezone),
             "daily_summaries", "Riepilogo giornaliero"),
            ("centralino.analytics.jobs:classify_sentiment", IntervalTrigger(seconds=60),
             "classify_sentiment", "Analisi del sentimento delle chiamate"),
            ("centralino.analytics.jobs:refresh_analytics", _cron(s.analytics_time, s.timezone),
             "refresh_analytics", "Aggiornamento statistiche"),
        ]  # fmt: skip
        for func, trigger, job_id, name in jobs:
            scheduler.add_job(
                func,
                trigger,
                id=job_id,
                name=name,
                kwargs={"context": self.context},
                replace_existing=True,
            )
        scheduler.resume()
        log.info("%s is the active scheduler", self.holder)

    def _stop_scheduler(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None

    def step(self) -> bool:
        """Take/renew the lease and start/stop the scheduler accordingly; True if leader."""
        try:
            leader = self.lease.acquire()
        except Exception:  # database unreachable: we cannot prove we still lead
            log.exception("scheduler lease check failed")
            leader = False
        if leader and self.scheduler is None:
            try:
                self._start_scheduler()
            except Exception:  # e.g. the job store table is unreachable: try next round
                log.exception("cannot start the scheduler")
                self._stop_scheduler()
                self.lease.release()
                return False
        elif not leader and self.scheduler is not None:
            log.warning("%s lost the scheduler lease; stopping its scheduler", self.holder)
            self._stop_scheduler()
        return leader

    def run(self, stop: threading.Event) -> None:
        """Until ``stop``: renew every third of the lease time (a standby retries as often)."""
        log.info("job runner %s started", self.holder)
        try:
            while not stop.is_set():
                self.step()
                stop.wait(self.settings.lease_ttl_s / 3)
        finally:
            was_leader = self.is_leader
            self._stop_scheduler()
            if was_leader:
                self.lease.release()
            log.info("job runner %s stopped", self.holder)
