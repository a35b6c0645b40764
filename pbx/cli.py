"""``centralino serve`` (the ARI controller) and ``centralino agi`` (FastAGI routing).

Both stop cleanly on SIGINT/SIGTERM: calls in progress are hung up and their
rows completed before the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

import click

from centralino.calls.service import CallStore
from centralino.cli import Context, pass_ctx
from centralino.tenants.service import TenantService
from pbx.agi.server import RoutingAgi, start_agi_server
from pbx.ari.client import AriClient
from pbx.calls.conversation import ConversationFactory
from pbx.calls.greeting import greeting_factory
from pbx.controller import Controller
from pbx.settings import ari_settings, asterisk_settings, pbx_settings

log = logging.getLogger(__name__)


def default_conversation_factory(listen_s: float) -> ConversationFactory:
    """The greeting conversation with the offline Italian voice."""
    from agent.tts.offline import OfflineTTS

    return greeting_factory(OfflineTTS(), listen_s)


def build_controller(ctx: Context) -> Controller:
    config = ctx.config
    pbx = pbx_settings(config)
    ari = AriClient(ari_settings(config))
    return Controller(
        ari=ari,
        store=CallStore(ctx.db),
        tenants=TenantService(ctx.db),
        conversation_factory=default_conversation_factory(pbx.listen_s),
        recordings_dir=config.recordings_dir,
        media_start_timeout_s=pbx.media_start_timeout_s,
    )


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


@click.command("serve")
@pass_ctx
def serve(ctx: Context) -> None:
    """Run the ARI call controller (answers calls for every tenant)."""
    controller = build_controller(ctx)
    ctx.db.upgrade()
    click.echo(
        f"controller: ARI {controller.ari.settings.url} app={controller.ari.settings.app},"
        f" recordings in {ctx.config.recordings_dir}"
    )
    run_until_signalled(controller.run)


@click.command("agi")
@click.option("--host", default=None, help="bind address (default: pbx.agi_bind)")
@click.option("--port", type=int, default=None, help="port (default: asterisk.agi_port)")
@pass_ctx
def agi(ctx: Context, host: str | None, port: int | None) -> None:
    """Run the FastAGI routing service (DID -> tenant, business hours)."""
    config = ctx.config
    bind = host or pbx_settings(config).agi_bind
    agi_port = port or asterisk_settings(config).agi_port
    routing = RoutingAgi(TenantService(ctx.db))

    async def main(stop: asyncio.Event) -> None:
        server = await start_agi_server(routing, bind, agi_port)
        click.echo(f"FastAGI routing on agi://{bind}:{agi_port}/route")
        try:
            await stop.wait()
        finally:
            server.close()
            await server.wait_closed()
            log.info("FastAGI routing stopped after %d request(s)", routing.requests)

    run_until_signalled(main)
