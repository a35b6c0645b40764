"""``centralino jobs``: the scheduler process and manual runs of each job."""

from __future__ import annotations

import json
import signal
import threading
from typing import Any

import click
from sqlalchemy import inspect

from centralino.jobs.lease import LeaderLease
from centralino.jobs.scheduler import JOBSTORE_TABLE, LEASE_NAME, JobRunner
from centralino.jobs.tasks import CONTEXTS, JOBS, JobContext


@click.group()
def jobs() -> None:
    """Scheduled jobs (dispatch, backup, recording retention, daily summary)."""


@jobs.command("run")
@click.option("--holder", default=None, help="Name of this process in the scheduler lease")
@click.pass_obj
def jobs_run(ctx: Any, holder: str | None) -> None:
    """Run the scheduler (only one process at a time is active; others stand by)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    JobRunner(ctx.db, ctx.config, holder=holder).run(stop)


@jobs.command("run-now")
@click.argument("name", type=click.Choice(sorted(JOBS)))
@click.pass_obj
def jobs_run_now(ctx: Any, name: str) -> None:
    """Run one job once in this process and print its result (JSON)."""
    CONTEXTS["default"] = JobContext(ctx.db, ctx.config)
    click.echo(json.dumps(JOBS[name](), default=str))


@jobs.command("status")
@click.pass_obj
def jobs_status(ctx: Any) -> None:
    """Who holds the scheduler lease, and the stored jobs with their next run."""
    holder, expires = LeaderLease(ctx.db, LEASE_NAME, "-").current()
    click.echo(f"leader: {holder or '-'} (until {expires})")
    if JOBSTORE_TABLE in inspect(ctx.db.engine).get_table_names():
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

        store = SQLAlchemyJobStore(engine=ctx.db.engine, tablename=JOBSTORE_TABLE)
        store.start(None, "default")
        for job in store.get_all_jobs():
            click.echo(f"{job.id}\tnext run {job.next_run_time}")
