"""The ARI controller: one events websocket, one :class:`CallSession` per call.

Build it with its dependencies (ARI client, stores, conversation factory);
:func:`build_controller` does that from the configuration for ``centralino serve``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from agent.conversation import ConversationFactory
from centralino.calls.service import CallStore
from centralino.tenants.service import TenantService
from pbx.ari.client import AriClient, AriError
from pbx.ari.events import AriEvent, StasisStart
from pbx.calls.session import BRIDGE_PREFIX, CallSession, SessionDeps
from pbx.media.audiosocket import AudioSocketServer, choose_transport

log = logging.getLogger(__name__)


@dataclass
class ControllerStats:
    calls_started: int = 0
    calls_ended: int = 0
    reconnects: int = 0


class Controller:
    def __init__(
        self,
        ari: AriClient,
        store: CallStore,
        tenants: TenantService,
        conversation_factory: ConversationFactory,
        recordings_dir: Path,
        media_start_timeout_s: float = 5.0,
        lead_sink: Callable[[int, str, dict[str, Any]], Any] | None = None,
        db_threads: int = 8,
        fallback_context: str = "fallback",
        transfer_context: str = "outbound",
        transfer_timeout_s: int = 30,
        media_transport: str = "auto",
        audiosocket_bind: str = "127.0.0.1",
        audiosocket_port: int = 0,
    ) -> None:
        self.ari = ari
        self.store = store
        self.tenants = tenants
        self.conversation_factory = conversation_factory
        self.recordings_dir = recordings_dir
        self.media_start_timeout_s = media_start_timeout_s
        self.lead_sink = lead_sink
        self.fallback_context = fallback_context
        self.transfer_context = transfer_context
        self.transfer_timeout_s = transfer_timeout_s
        self.media_transport_setting = media_transport
        # What calls use now; "auto" is resolved from Asterisk's version at each connect.
        self.media_transport = "websocket" if media_transport == "auto" else media_transport
        self.audiosocket = AudioSocketServer(audiosocket_bind, audiosocket_port)
        self._audiosocket_started = False
        self._db_pool = ThreadPoolExecutor(max_workers=db_threads, thread_name_prefix="pbx-db")
        self.sessions: dict[str, CallSession] = {}  # caller channel id -> session
        self._routes: dict[str, CallSession] = {}  # any of our channel ids -> session
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        self.stats = ControllerStats()
        self.ready = asyncio.Event()

    @property
    def media_base_url(self) -> str:
        parts = urlsplit(self.ari.settings.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}"

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Serve calls until ``stop`` is set (or the task is cancelled)."""
        loop = asyncio.get_running_loop()
        recovered = await loop.run_in_executor(self._db_pool, self.store.recover_stale)
        if recovered:
            log.warning("closed %d call(s) left open by a previous run", recovered)
        self._http = aiohttp.ClientSession()
        events = asyncio.create_task(
            self.ari.run_events(self._on_event, self._on_connect, self._on_disconnect),
            name="ari-events",
        )
        try:
            if stop is None:
                await events
            else:
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({events, stopper}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
        finally:
            await self.shutdown(events)

    async def shutdown(self, events: asyncio.Task[None] | None = None) -> None:
        log.info("controller stopping: %d call(s) in progress", len(self.sessions))
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ari.close()
        if events is not None:
            events.cancel()
            await asyncio.gather(events, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        if self._audiosocket_started:
            await self.audiosocket.close()
        self._db_pool.shutdown(wait=True)
        log.info("controller stopped")

    # -- events -----------------------------------------------------------------

    async def _on_connect(self) -> None:
        if self.ari.connect_count > 1:
            self.stats.reconnects += 1
        await self._select_media_transport()
        await self._rescue_orphans()
        self.ready.set()
        # Sessions that survived a short disconnect: drop those whose channel is gone.
        for session in list(self.sessions.values()):
            try:
                await self.ari.get_channel(session.channel_id)
            except AriError as exc:
                if exc.not_found:
                    session.connection_lost()

    async def _select_media_transport(self) -> None:
        if self.media_transport_setting == "auto":
            try:
                info = await self.ari.asterisk_info()
                system = info.get("system")
                version = str(system.get("version", "")) if isinstance(system, dict) else ""
            except (AriError, TypeError, ValueError) as exc:
                # An unreadable version must not stop the controller from taking calls.
                log.warning("cannot read the Asterisk version (%s): keeping %s media",
                            exc, self.media_transport)  # fmt: skip
            else:
                self.media_transport = choose_transport("auto", version)
                log.info("Asterisk %s: %s media", version or "?", self.media_transport)
        if self.media_transport == "audiosocket" and not self._audiosocket_started:
            try:
                await self.audiosocket.start()
            except OSError as exc:
                # Calls then fail into the dialplan fallback (message + voicemail).
                log.error("cannot start the AudioSocket server on %s: %s",
                          self.audiosocket.address, exc)  # fmt: skip
            else:
                self._audiosocket_started = True

    async def _rescue_orphans(self) -> None:
        """Calls left in our bridges by a controller that crashed: the caller would hear
        silence forever. Hand them to the dialplan fallback (message + voicemail)."""
        live = {s.bridge_id for s in self.sessions.values()}
        try:
            bridges = await self.ari.list_bridges()
        except AriError as exc:
            log.warning("cannot list bridges: %s", exc)
            return
        for bridge in bridges:
            if not bridge.id.startswith(BRIDGE_PREFIX) or bridge.id in live:
                continue
            for channel_id in bridge.channels:
                try:
                    if channel_id.startswith(("media-", "xfer-")):
                        await self.ari.hangup(channel_id)
                    elif self.fallback_context:
                        await self.ari.continue_in_dialplan(channel_id, self.fallback_context)
                        log.warning("handed orphan call %s to the dialplan fallback", channel_id)
                    else:
                        await self.ari.hangup(channel_id)
                except AriError as exc:
                    log.info("orphan channel %s: %s", channel_id, exc)
            try:
                await self.ari.destroy_bridge(bridge.id)
            except AriError as exc:
                log.info("orphan bridge %s: %s", bridge.id, exc)

    async def _on_disconnect(self) -> None:
        self.ready.clear()
        if not self.sessions:
            return
        try:
            await self.ari.asterisk_info()
        except AriError as exc:
            if exc.status == 0:
                # Asterisk itself is gone (restart, crash): so are its channels. Close
                # the sessions now so their rows say what happened.
                log.warning(
                    "Asterisk unreachable with %d call(s) in progress; closing them",
                    len(self.sessions),
                )
                for session in list(self.sessions.values()):
                    session.connection_lost()

    async def _on_event(self, event: AriEvent) -> None:
        chan_id = event.channel_id
        log.debug("ARI %s channel=%s", event.type, chan_id)
        session = self._routes.get(chan_id) if chan_id else None
        if session is not None:
            await session.on_event(event)
            return
        if isinstance(event, StasisStart):
            if event.channel.is_media or event.args[:1] == ("transfer",):
                # One of our own legs whose call is already over: do not treat it as a
                # new inbound call (it would be answered and greeted), just drop it.
                log.warning("dropping orphan channel %s (%s)", chan_id, event.channel.name)
                task = asyncio.create_task(self._drop(event.channel.id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                self._start_session(event)
        elif event.type == "PlaybackFinished":
            for s in self.sessions.values():
                await s.on_event(event)

    async def _drop(self, channel_id: str) -> None:
        try:
            await self.ari.hangup(channel_id)
        except AriError as exc:
            log.debug("orphan channel %s: %s", channel_id, exc)

    def _start_session(self, event: StasisStart) -> None:
        assert self._http is not None
        deps = SessionDeps(
            ari=self.ari,
            http=self._http,
            store=self.store,
            tenants=self.tenants,
            conversation_factory=self.conversation_factory,
            recordings_dir=self.recordings_dir,
            media_base_url=self.media_base_url,
            register_channel=self._register,
            unregister_channel=self._unregister,
            media_start_timeout_s=self.media_start_timeout_s,
            lead_sink=self.lead_sink,
            db_executor=self._db_pool,
            fallback_context=self.fallback_context,
            transfer_context=self.transfer_context,
            transfer_timeout_s=self.transfer_timeout_s,
            media_transport=self.media_transport,
            audiosocket=self.audiosocket if self._audiosocket_started else None,
        )
        session = CallSession(deps, event)
        self.sessions[session.channel_id] = session
        self._routes[session.channel_id] = session
        self.stats.calls_started += 1
        task = asyncio.create_task(self._run_session(session), name=f"call {session.channel_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_session(self, session: CallSession) -> None:
        try:
            await session.run()
        except Exception:
            # E.g. the database went away while completing the row: it stays open and
            # recover_stale() closes it on the next start.
            log.exception("call session %s ended with an error", session.channel_id)
        finally:
            self.sessions.pop(session.channel_id, None)
            self._routes.pop(session.channel_id, None)
            self.stats.calls_ended += 1

    def _register(self, channel_id: str, session: CallSession) -> None:
        self._routes[channel_id] = session

    def _unregister(self, channel_id: str) -> None:
        self._routes.pop(channel_id, None)
