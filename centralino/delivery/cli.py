"""``centralino deliver``: run the outbox dispatcher, inspect and retry deliveries."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

import click

from centralino.delivery.dispatcher import Dispatcher
from centralino.delivery.outbox import DeliveryNotFound, Outbox
from centralino.delivery.settings import DeliverySettings


@click.group()
def deliver() -> None:
    """Lead delivery (outbox dispatcher)."""


@deliver.command("run")
@click.option("--worker-id", default=None, help="Name of this dispatcher in the outbox rows")
@click.pass_obj
def deliver_run(ctx: Any, worker_id: str | None) -> None:
    """Dispatch due deliveries until stopped (SIGTERM/SIGINT finish the current batch)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with Dispatcher(ctx.db, ctx.config, worker_id=worker_id) as dispatcher:
            await dispatcher.run(stop)

    asyncio.run(main())


@deliver.command("once")
@click.option("--worker-id", default=None)
@click.pass_obj
def deliver_once(ctx: Any, worker_id: str | None) -> None:
    """Dispatch one batch of due deliveries and print what happened (JSON)."""

    async def main() -> Any:
        async with Dispatcher(ctx.db, ctx.config, worker_id=worker_id) as dispatcher:
            return await dispatcher.run_once()

    stats = asyncio.run(main())
    click.echo(json.dumps(stats.__dict__, sort_keys=True))


@deliver.command("status")
@click.argument("tenant_id", type=int)
@click.option("--dead", is_flag=True, help="List only the dead letters")
@click.pass_obj
def deliver_status(ctx: Any, tenant_id: int, dead: bool) -> None:
    """Counts per status and the latest deliveries of a tenant."""
    outbox = Outbox(ctx.db, ctx.config.section("delivery", DeliverySettings))
    click.echo(json.dumps(outbox.counts(tenant_id), sort_keys=True))
    for d in outbox.list(tenant_id, status="dead" if dead else None, limit=50):
        error = d.last_error.splitlines()[0] if d.last_error else ""
        click.echo(f"{d.id}\t{d.status}\t{d.channel}\t{d.attempts}/{d.max_attempts}\t{error}")


@deliver.command("retry")
@click.argument("tenant_id", type=int)
@click.argument("delivery_id", type=int)
@click.pass_obj
def deliver_retry(ctx: Any, tenant_id: int, delivery_id: int) -> None:
    """Retry a dead or waiting delivery now."""
    try:
        view = Outbox(ctx.db).retry_now(tenant_id, delivery_id)
    except DeliveryNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{view.id}\t{view.status}")
