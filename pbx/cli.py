"""``centralino serve`` (the ARI controller) and ``centralino agi`` (FastAGI routing).

Both stop cleanly on SIGINT/SIGTERM: calls in progress are hung up and their
rows completed before the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import click

from agent.conversation import ConversationFactory
from agent.tts.base import TTSProvider
from centralino.calls.service import CallStore
from centralino.cli import Context, pass_ctx
from centralino.config import Config
from centralino.tenants.service import TenantService
from pbx.agi.server import RoutingAgi, start_agi_server
from pbx.ari.client import AriClient
from pbx.calls.greeting import greeting_factory, warm_greetings
from pbx.controller import Controller
from pbx.settings import PbxSettings, ari_settings, asterisk_settings, pbx_settings

if TYPE_CHECKING:  # the voice pipeline is imported only by a controller that runs it
    from agent.stt.settings import STTSettings
    from agent.stt.vad import VADSettings
    from agent.voice.pipeline import VoiceSettings

log = logging.getLogger(__name__)


def _log_warm_up(task: asyncio.Task[int]) -> None:
    if not task.cancelled() and task.exception() is None:
        log.info("pre-synthesized %d greeting(s)", task.result())


def _tenant_snapshots(ctx: Context) -> list[dict[str, Any]]:
    return [
        {
            "id": t.id,
            "slug": t.slug,
            "name": t.name,
            "greeting": t.greeting,
            "voice": t.voice,
            "language": t.language,
        }
        for t in TenantService(ctx.db).all()
    ]


def voice_settings(config: Config) -> tuple[VoiceSettings, VADSettings]:
    """``[voice]`` (turn-taking) and ``[vad]`` (endpointing) of the voice conversation.

    Raises ConfigError naming the key (or environment variable) of a bad value."""
    from agent.stt.vad import VADSettings
    from agent.voice.pipeline import VoiceSettings

    return config.section("voice", VoiceSettings), config.section("vad", VADSettings)


def stt_settings(config: Config) -> STTSettings:
    """``[stt]`` (Whisper) of the voice conversation.

    Raises ConfigError naming the key (or environment variable) of a bad value."""
    from agent.stt.settings import STTSettings

    return config.section("stt", STTSettings)


async def build_conversation_factory(
    config: Config, pbx: PbxSettings
) -> tuple[ConversationFactory, TTSProvider]:
    """The configured conversation, with the product's TTS stack (cache, ElevenLabs when
    configured, offline Italian voices as fallback). Models load here, before any call."""
    from agent.tts.factory import build_tts
    from agent.tts.usage import TTSUsage

    if pbx.conversation == "greeting":
        tts = build_tts(config, usage=TTSUsage())
        return greeting_factory(tts, pbx.listen_s), tts
    from agent.llm.factory import make_llm
    from agent.stt.whisper import WhisperSTT
    from agent.voice.factory import make_conversation_factory

    # [voice], [vad] and [stt] are read before Whisper loads: a typo costs no start-up.
    voice, vad = voice_settings(config)
    stt_config = stt_settings(config)
    tts = build_tts(config, usage=TTSUsage())
    stt = WhisperSTT(stt_config)
    await stt.start()
    # One LLM chain per process: every call shares its memory of a dead Ollama server.
    factory = make_conversation_factory(stt, tts, llm=make_llm(config), settings=voice, vad=vad)
    return factory, tts


def build_controller(ctx: Context, conversation_factory: ConversationFactory) -> Controller:
    from centralino.leads.service import LeadService

    config = ctx.config
    pbx = pbx_settings(config)
    return Controller(
        ari=AriClient(ari_settings(config)),
        store=CallStore(ctx.db),
        tenants=TenantService(ctx.db),
        conversation_factory=conversation_factory,
        recordings_dir=config.recordings_dir,
        media_start_timeout_s=pbx.media_start_timeout_s,
        lead_sink=LeadService(ctx.db, config).save_from_call,
        fallback_context=pbx.fallback_context,
        transfer_context=pbx.transfer_context,
        transfer_timeout_s=pbx.transfer_timeout_s,
        media_transport=pbx.media_transport,
        audiosocket_bind=pbx.audiosocket_bind,
        audiosocket_port=pbx.audiosocket_port,
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
    config = ctx.config
    # Validate every setting (and secret) before touching anything.
    pbx = pbx_settings(config)
    ari = ari_settings(config)
    if pbx.conversation == "voice":
        voice_settings(config)
        stt_settings(config)
    ctx.db.upgrade()

    async def main(stop: asyncio.Event) -> None:
        factory, tts = await build_conversation_factory(config, pbx)
        controller = build_controller(ctx, factory)
        if pbx.conversation == "greeting":
            tenants = await asyncio.to_thread(_tenant_snapshots, ctx)
            warm = asyncio.create_task(warm_greetings(tts, tenants))
            warm.add_done_callback(_log_warm_up)
        click.echo(
            f"controller: ARI {ari.url} app={ari.app}, conversation={pbx.conversation},"
            f" recordings in {config.recordings_dir}"
        )
        await controller.run(stop)

    run_until_signalled(main)


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
