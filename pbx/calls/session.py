"""One inbound call, from StasisStart to hang-up.

The session owns everything a call creates in Asterisk (mixing bridge,
chan_websocket media channel) and in the database (the call row, its events
and turns). The row is written at StasisStart and completed at hang-up, so a
controller crash mid-call leaves a visible row that ``CallStore.recover_stale``
closes on the next start.

States (:class:`CallState`) move along validated transitions; each one is
logged and stored in ``calls.state``.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from agent.conversation import CallContext, Conversation, ConversationFactory
from centralino.calls.models import Turn
from centralino.calls.service import CallStart, CallStore
from centralino.db.base import utcnow
from centralino.leads.service import has_caller_data
from centralino.tenants.phone import InvalidPhoneNumber, normalize_e164
from centralino.tenants.service import TenantService
from pbx.ari.client import AriClient, AriError
from pbx.ari.events import (
    AriEvent,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    PlaybackFinished,
    StasisEnd,
    StasisStart,
)
from pbx.calls.hours import is_open
from pbx.media.audiosocket import AudioSocketConnection, AudioSocketServer
from pbx.media.recorder import WavRecorder
from pbx.media.websocket import MediaConnection, MediaError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Played to a caller who dialled a number no agency owns (asterisk-core-sounds-it):
# "Il numero che ha digitato non è in uso. Prego controllare il numero e riprovare."
UNKNOWN_DID_MEDIA = "sound:ss-noservice"
# Our bridges are named BRIDGE_PREFIX + call id (a restarted controller finds orphans).
BRIDGE_PREFIX = "centralino-"
# Channel variables set by the FastAGI routing service (pbx.agi) before Stasis.
ROUTE_VARIABLES = (
    "CENTRALINO_TENANT_ID",
    "CENTRALINO_TENANT",
    "CENTRALINO_ROUTE",
    "CENTRALINO_HOURS",
)


class CallState(enum.Enum):
    RINGING = "ringing"
    GREETING = "greeting"
    LISTENING = "listening"
    SPEAKING = "speaking"
    TRANSFERRING = "transferring"
    ENDED = "ended"


ALLOWED: dict[CallState, frozenset[CallState]] = {
    CallState.RINGING: frozenset({CallState.GREETING, CallState.LISTENING, CallState.ENDED}),
    CallState.GREETING: frozenset(
        {CallState.LISTENING, CallState.SPEAKING, CallState.TRANSFERRING, CallState.ENDED}
    ),
    CallState.LISTENING: frozenset({CallState.SPEAKING, CallState.TRANSFERRING, CallState.ENDED}),
    CallState.SPEAKING: frozenset({CallState.LISTENING, CallState.TRANSFERRING, CallState.ENDED}),
    CallState.TRANSFERRING: frozenset({CallState.LISTENING, CallState.ENDED}),
    CallState.ENDED: frozenset(),
}


TURN_COLUMNS = frozenset(Turn.__table__.columns.keys()) - {
    "id", "call_id", "tenant_id", "index", "speaker", "text",
}  # fmt: skip


class InvalidTransition(RuntimeError):
    pass


class StateMachine:
    """Validated call states; ``on_change`` persists each transition."""

    def __init__(
        self,
        label: str,
        on_change: Callable[[CallState, CallState], None] | None = None,
    ) -> None:
        self.label = label
        self.state = CallState.RINGING
        self.history: list[CallState] = [CallState.RINGING]
        self._on_change = on_change

    def can(self, new: CallState) -> bool:
        return new == self.state or new in ALLOWED[self.state]

    def to(self, new: CallState) -> bool:
        """Move to ``new``; False if already there. Raises on an invalid transition."""
        if new == self.state:
            return False
        if new not in ALLOWED[self.state]:
            raise InvalidTransition(f"{self.label}: {self.state.value} -> {new.value} not allowed")
        old, self.state = self.state, new
        self.history.append(new)
        log.info("call %s: %s -> %s", self.label, old.value, new.value)
        if self._on_change is not None:
            self._on_change(old, new)
        return True


@dataclass(frozen=True)
class SessionDeps:
    """Everything a session needs, passed in by the controller."""

    ari: AriClient
    http: aiohttp.ClientSession
    store: CallStore
    tenants: TenantService
    conversation_factory: ConversationFactory
    recordings_dir: Path
    media_base_url: str  # ws://127.0.0.1:8088
    register_channel: Callable[[str, CallSession], None]
    unregister_channel: Callable[[str], None]
    media_start_timeout_s: float = 5.0
    hangup_grace_s: float = 3.0
    # Called (in a worker thread) with (tenant_id, call_id, result) when a conversation
    # returns a lead; e.g. LeadService.save_from_call. Returns the lead id.
    lead_sink: Callable[[int, str, dict[str, Any]], Any] | None = None
    # Worker threads for database work (and the lead sink). A pool of its own, so a
    # burst of TTS subprocesses in the default executor never delays call rows.
    db_executor: Executor | None = None
    # Dialplan context (extension "s") that plays the "we cannot answer" message and takes
    # a voicemail / forwards: where a call goes when the controller fails it. "" = hang up.
    fallback_context: str = "fallback"
    # Transfers dial Local/<number>@transfer_context (the dialplan's `outbound`, the only
    # context that reaches the trunk) and give up after transfer_timeout_s.
    transfer_context: str = "outbound"
    transfer_timeout_s: int = 30
    # Media transport: "websocket" (chan_websocket, Asterisk >= 22.6) or "audiosocket"
    # (chan_audiosocket, Asterisk 18-22.5) over the controller's AudioSocket server.
    media_transport: str = "websocket"
    audiosocket: AudioSocketServer | None = None


def parse_ari_time(text: str) -> datetime | None:
    """ARI timestamps look like 2026-11-28T02:15:01.123+0000."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None


class CallSession:
    def __init__(self, deps: SessionDeps, start: StasisStart) -> None:
        self.deps = deps
        self.channel = start.channel
        self.start_event = start
        self.channel_id = start.channel.id
        self.call_id = ""
        self.tenant_id: int | None = None
        self.tenant_slug = ""
        self.did = ""
        self.sm = StateMachine(self.channel_id, self._persist_state)
        self.bridge_id = ""
        self.media_channel_id = ""
        self.media: MediaConnection | AudioSocketConnection | None = None
        self.recorder: WavRecorder | None = None
        self.outcome: str | None = None
        self.hangup_cause = ""
        self.hangup_code: int | None = None
        # Who ended the call: caller | agent | system (unknown DID, errors, Asterisk gone).
        self.hangup_by = ""
        self.ended_at: datetime | None = None
        self.result: dict[str, Any] = {}
        self.caller_gone = asyncio.Event()
        self.caller_destroyed = asyncio.Event()
        self.done = asyncio.Event()
        self._media_stasis = asyncio.Event()
        self._playbacks: dict[str, asyncio.Event] = {}
        self._db_tasks: set[asyncio.Task[None]] = set()
        self._db_lock = asyncio.Lock()
        self._conversation_task: asyncio.Task[dict[str, Any]] | None = None
        self._conversation: Conversation | None = None
        self.dtmf = ""
        self.handed_off = False
        # Transfer leg (Local channel into the outbound context), when one is in progress.
        self.xfer_channel_id = ""
        self.transferred = False
        self._xfer_seq = 0
        self._xfer_up = asyncio.Event()
        self._xfer_gone = asyncio.Event()
        self.xfer_cause = ""

    # -- events -----------------------------------------------------------------

    async def on_event(self, event: AriEvent) -> None:
        """Events for our channels, routed here by the controller (must not block)."""
        if isinstance(event, StasisStart) and event.channel.id == self.media_channel_id:
            self._media_stasis.set()
        elif self.xfer_channel_id and event.channel_id == self.xfer_channel_id:
            if isinstance(event, StasisStart):
                self._xfer_up.set()
            elif isinstance(event, ChannelDestroyed | StasisEnd):
                if isinstance(event, ChannelDestroyed):
                    self.xfer_cause = f"{event.cause_txt} ({event.cause})"
                self._xfer_gone.set()
        elif isinstance(event, ChannelHangupRequest) and event.channel.id == self.channel_id:
            log.debug("call %s: hangup request %s", self.call_id, event.raw)
            self._mark_caller_gone(event.timestamp, event.cause, "")
        elif isinstance(event, ChannelDestroyed):
            if event.channel.id == self.channel_id:
                self._mark_caller_gone(event.timestamp, event.cause, event.cause_txt)
                self.caller_destroyed.set()
            elif (
                event.channel.id == self.media_channel_id
                and self.media is not None
                and not self.caller_gone.is_set()
            ):
                # Our media leg died under us: nothing more can be said or heard.
                log.warning("call %s: media channel destroyed (%s)", self.call_id, event.cause_txt)
        elif isinstance(event, StasisEnd) and event.channel.id == self.channel_id:
            self._mark_caller_gone(event.timestamp, None, "")
        elif isinstance(event, ChannelDtmfReceived) and event.channel.id == self.channel_id:
            self.dtmf += event.digit
            receiver = getattr(self._conversation, "send_dtmf", None)
            if receiver is not None:
                try:
                    await receiver(event.digit)
                except Exception:
                    log.exception("call %s: conversation rejected DTMF", self.call_id)
        elif isinstance(event, PlaybackFinished):
            done = self._playbacks.get(event.playback.id)
            if done is not None:
                done.set()

    def _mark_caller_gone(self, ts: str, cause: int | None, cause_txt: str) -> None:
        if not self.hangup_by:
            self.hangup_by = "caller"
        if self.ended_at is None:
            self.ended_at = parse_ari_time(ts) or utcnow()
        if cause is not None and cause_txt and not self.handed_off:
            # ChannelDestroyed carries the final cause; it wins over the request's.
            self.hangup_code, self.hangup_cause = cause, cause_txt
        elif cause is not None and self.hangup_code is None:
            self.hangup_code = cause
        self.caller_gone.set()

    def connection_lost(self) -> None:
        """Asterisk went away (restart): the call is over, whatever happened to it."""
        if self.ended_at is None:
            self.hangup_cause = self.hangup_cause or "asterisk connection lost"
            # The media leg may have dropped a moment earlier and let the conversation
            # finish as "completed"; it was not. A real result (e.g. a lead) stays.
            if self.outcome in (None, "completed"):
                self.outcome = "failed"
            self.hangup_by = self.hangup_by or "system"
            self._mark_caller_gone("", None, "")

    # -- database (always in worker threads) --------------------------------------

    async def _thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.deps.db_executor, functools.partial(fn, *args, **kwargs)
        )

    def _persist_state(self, old: CallState, new: CallState) -> None:
        if not self.call_id or new == CallState.ENDED:
            return  # the final row is written by CallStore.end
        self._db(self.deps.store.set_state, self.call_id, new.value)

    def _db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Fire-and-forget DB write, serialized per call so rows change in order."""

        async def run() -> None:
            async with self._db_lock:
                try:
                    await self._thread(fn, *args, **kwargs)
                except Exception:
                    log.exception(
                        "call %s: database write %s failed",
                        self.call_id,
                        getattr(fn, "__name__", fn),
                    )

        task = asyncio.get_running_loop().create_task(run())
        self._db_tasks.add(task)
        task.add_done_callback(self._db_tasks.discard)

    async def _db_wait(self) -> None:
        while self._db_tasks:
            await asyncio.gather(*list(self._db_tasks), return_exceptions=True)

    # -- the call ---------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            # The controller is stopping: leave the caller with the dialplan's message and
            # voicemail rather than cutting them off (if Asterisk still runs).
            self.outcome = self.outcome or "failed"
            if not await self._fall_back("controller stopped"):
                self.hangup_cause = self.hangup_cause or "controller stopped"
                await self._hangup_caller("normal")
            raise
        except Exception as exc:
            log.exception("call %s (channel %s) failed", self.call_id, self.channel_id)
            self.outcome = self.outcome or "failed"
            if not await self._fall_back(f"controller error: {exc}"):
                self.hangup_cause = self.hangup_cause or f"controller error: {exc}"[:64]
                await self._hangup_caller("normal")
        finally:
            await asyncio.shield(self._finish())

    async def _run(self) -> None:
        ch = self.channel
        args = self.start_event.args
        raw_did = args[0] if args and args[0] else ch.dialplan.exten
        try:
            self.did = normalize_e164(raw_did)
        except InvalidPhoneNumber:
            self.did = raw_did
        tenant = await self._thread(self.deps.tenants.by_did, self.did)
        snapshot = _tenant_snapshot(tenant) if tenant is not None else {}
        self.tenant_id = tenant.id if tenant is not None else None
        self.tenant_slug = str(snapshot.get("slug", ""))
        # Only a PJSIP channel has a SIP Call-ID (an AMI-originated Local channel has none).
        is_sip = ch.name.startswith("PJSIP/")
        names = (*ROUTE_VARIABLES, *(("CHANNEL(pjsip,call-id)",) if is_sip else ()))
        values = await asyncio.gather(*(self._variable(n) for n in names))
        route = dict(zip(ROUTE_VARIABLES, values[: len(ROUTE_VARIABLES)], strict=True))
        sip_call_id = values[len(ROUTE_VARIABLES)] if is_sip else ""
        try:
            # Without this, a caller's ChannelDestroyed (the final hang-up cause) is not
            # delivered: the channel leaves our app at StasisEnd, before it is destroyed.
            await self.deps.ari.subscribe(f"channel:{self.channel_id}")
        except AriError as exc:
            log.debug("cannot subscribe to channel %s: %s", self.channel_id, exc)
        started = parse_ari_time(ch.creationtime) or utcnow()
        info = CallStart(
            tenant_id=self.tenant_id,
            channel_id=self.channel_id,
            caller_id=ch.caller.number,
            caller_name=ch.caller.name,
            did=self.did,
            sip_call_id=sip_call_id,
            started_at=started,
        )
        outcome = "in_progress" if tenant is not None else "unknown_did"
        self.call_id = await self._thread(self.deps.store.start, info, outcome)
        self.sm.label = self.call_id
        # What the FastAGI routing service decided in the dialplan (empty if it was down).
        self._db(self.deps.store.event, self.call_id, self.tenant_id, "route", **route)
        log.info(
            "call %s: from %s to %s tenant=%s channel=%s sip_call_id=%s",
            self.call_id,
            ch.caller.number or "anonymous",
            self.did,
            self.tenant_slug or "-",
            self.channel_id,
            sip_call_id,
        )
        if self.caller_gone.is_set():
            self.outcome = "abandoned"
            return
        if tenant is None:
            await self._unknown_did()
            return
        # Media first, answer last: the caller's first words after the 200 OK already
        # flow through the bridge into the recording and the conversation.
        await self._connect_media()
        if self.caller_gone.is_set():
            self.outcome = self.outcome or "abandoned"
            return
        await self.deps.ari.answer(self.channel_id)
        self._db(self.deps.store.answered, self.call_id, utcnow())
        ctx = CallContext(
            call_id=self.call_id,
            tenant_id=self.tenant_id,
            tenant_slug=self.tenant_slug,
            caller_id=ch.caller.number,
            did=self.did,
            tenant=snapshot,
            in_business_hours=is_open(
                snapshot.get("business_hours"),
                snapshot.get("holidays"),
                str(snapshot.get("timezone") or "Europe/Rome"),
            ),
        )
        await self._converse(ctx)

    async def _variable(self, name: str) -> str:
        try:
            return await self.deps.ari.get_variable(self.channel_id, name)
        except AriError as exc:
            log.debug("variable %s not readable on %s: %s", name, self.channel_id, exc)
            return ""

    async def _unknown_did(self) -> None:
        """Answer, say politely that the number is not in service, hang up (still logged)."""
        log.info("call %s: DID %s belongs to no tenant", self.call_id, self.did)
        self.outcome = "unknown_did"
        await self.deps.ari.answer(self.channel_id)
        self._db(self.deps.store.answered, self.call_id, utcnow())
        self.sm.to(CallState.GREETING)
        playback_id = uuid.uuid4().hex
        finished = asyncio.Event()
        self._playbacks[playback_id] = finished
        try:
            await self.deps.ari.play(
                self.channel_id, UNKNOWN_DID_MEDIA, lang="it", playback_id=playback_id
            )
            await _wait_any(finished.wait(), self.caller_gone.wait(), timeout=20.0)
        finally:
            self._playbacks.pop(playback_id, None)
        await self._hangup_caller("normal")

    async def _connect_media(self) -> None:
        """Mixing bridge + chan_websocket channel (server mode), both bridged."""
        ari = self.deps.ari
        self.bridge_id = f"{BRIDGE_PREFIX}{self.call_id}"
        await ari.create_bridge(self.bridge_id, "mixing", name=f"call {self.call_id}")
        self.media_channel_id = f"media-{self.call_id}"
        # Route the media channel's events (its StasisStart) to us before it exists.
        self.deps.register_channel(self.media_channel_id, self)
        # An invalid caller number on the media leg keeps the bridge from pushing it to
        # the caller as a connected-line update: chan_pjsip would otherwise send a
        # re-INVITE/UPDATE with an empty P-Asserted-Identity at every answer.
        hide_cid = {"CALLERID(num-valid)": "0", "CALLERID(name-valid)": "0"}
        if self.deps.media_transport == "audiosocket":
            await self._connect_audiosocket(hide_cid)
            return
        await ari.external_media(channel_id=self.media_channel_id, variables=hide_cid)
        conn_id = await ari.get_variable(self.media_channel_id, "MEDIA_WEBSOCKET_CONNECTION_ID")
        if not conn_id:
            raise MediaError("externalMedia channel has no MEDIA_WEBSOCKET_CONNECTION_ID")
        media = MediaConnection(
            f"{self.deps.media_base_url.rstrip('/')}/media/{conn_id}", session=self.deps.http
        )
        self.media = media
        await self._start_recorder(media)
        # In server mode the media channel enters Stasis only once we connect.
        await media.connect()
        await _wait_any(
            self._media_stasis.wait(),
            self.caller_gone.wait(),
            timeout=self.deps.media_start_timeout_s,
        )
        if self.caller_gone.is_set():
            return
        if not self._media_stasis.is_set():
            raise MediaError("media channel did not enter Stasis in time")
        # Adding before StasisStart fails with 422 "Channel not in Stasis application".
        await ari.add_channels(self.bridge_id, [self.channel_id, self.media_channel_id])
        await _wait_any(
            media.media_started.wait(),
            self.caller_gone.wait(),
            timeout=self.deps.media_start_timeout_s,
        )

    async def _start_recorder(self, media: MediaConnection | AudioSocketConnection) -> None:
        if not self.tenant_slug:
            return
        path = self.deps.recordings_dir / self.tenant_slug / f"{self.call_id}.wav"
        recorder = WavRecorder(path)
        try:
            await recorder.open()
        except OSError as exc:
            # Not being able to record must not cost the call (nor the lead).
            log.error("call %s: cannot record to %s: %s", self.call_id, path, exc)
            self._db(self.deps.store.event, self.call_id, self.tenant_id,
                     "recording_failed", error=str(exc)[:500])  # fmt: skip
        else:
            self.recorder = recorder
            media.add_listener(recorder.write)

    async def _connect_audiosocket(self, variables: dict[str, str]) -> None:
        """chan_audiosocket leg: Asterisk connects to our server while the channel is
        created and sends the UUID we passed as ``data``; the channel is in Stasis."""
        server = self.deps.audiosocket
        if server is None:
            raise MediaError("media_transport is audiosocket but no AudioSocket server runs")
        media = server.expect()
        self.media = media
        await self._start_recorder(media)
        try:
            await self.deps.ari.external_media(
                channel_id=self.media_channel_id,
                transport="tcp",
                connection_type=None,
                encapsulation="audiosocket",
                fmt="slin",
                external_host=server.address,
                data=str(media.uuid),
                variables=variables,
            )
            await _wait_any(
                media.media_started.wait(),
                self.caller_gone.wait(),
                timeout=self.deps.media_start_timeout_s,
            )
            await _wait_any(
                self._media_stasis.wait(),
                self.caller_gone.wait(),
                timeout=self.deps.media_start_timeout_s,
            )
        finally:
            server.forget(media)
        if self.caller_gone.is_set():
            return
        if not media.media_started.is_set():
            raise MediaError("AudioSocket: Asterisk did not connect in time")
        if not self._media_stasis.is_set():
            raise MediaError("media channel did not enter Stasis in time")
        await self.deps.ari.add_channels(self.bridge_id, [self.channel_id, self.media_channel_id])

    async def _converse(self, ctx: CallContext) -> None:
        assert self.media is not None
        media = self.media
        conversation = self.deps.conversation_factory(ctx)
        self._conversation = conversation
        out = SessionAudioOut(media, self.sm)
        control = SessionControl(self)

        async def audio_in() -> AsyncIterator[bytes]:
            async for frame in media.frames():
                yield frame

        self._conversation_task = asyncio.create_task(
            conversation.run(ctx, audio_in(), out, control), name=f"conversation {self.call_id}"
        )
        gone = asyncio.create_task(self.caller_gone.wait())
        try:
            await asyncio.wait({self._conversation_task, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not self._conversation_task.done():
                # The caller hung up: audio_in ends when the media leg closes; give the
                # conversation a moment to wrap up (store the lead) before cancelling.
                await self._close_media()
                try:
                    await asyncio.wait_for(
                        asyncio.shield(self._conversation_task), self.deps.hangup_grace_s
                    )
                except TimeoutError:
                    self._conversation_task.cancel()
            if self._conversation_task.done() and not self._conversation_task.cancelled():
                exc = self._conversation_task.exception()
                if exc is not None:
                    log.error("call %s: conversation failed: %r", self.call_id, exc, exc_info=exc)
                    self.outcome = self.outcome or "failed"
                    await self._close_media()
                    await self._fall_back(f"conversation error: {exc!r}")
                else:
                    self.result = dict(self._conversation_task.result() or {})
                    self.outcome = self.outcome or self.result.get("outcome") or None
        finally:
            gone.cancel()
            if not self._conversation_task.done():
                self._conversation_task.cancel()
        if self.transferred:
            # The caller now talks to a person; the call ends when either side hangs up.
            await _wait_any(self.caller_gone.wait(), self._xfer_gone.wait(), timeout=6 * 3600)
            if not self.caller_gone.is_set():
                self.hangup_by = self.hangup_by or "transfer"
        if not self.caller_gone.is_set() and not self.handed_off:
            await self._hangup_caller("normal")

    async def transfer(self, number: str) -> bool:
        """Bridge the caller with ``number`` (through the dialplan's outbound context).

        True once the far end answered and is in the call (the agent's media leg is then
        removed); False if it could not be reached, the call goes on with the agent.
        """
        try:
            target = normalize_e164(number)
        except InvalidPhoneNumber as exc:
            self._db(
                self.deps.store.event,
                self.call_id,
                self.tenant_id,
                "transfer_failed",
                number=number,
                reason=str(exc),
            )
            return False
        if self.caller_gone.is_set() or not self.bridge_id or self.xfer_channel_id:
            return False
        self.sm.to(CallState.TRANSFERRING)
        self._xfer_seq += 1
        leg = f"xfer-{self.call_id}-{self._xfer_seq}"
        self.xfer_channel_id = leg
        self._xfer_up.clear()
        self._xfer_gone.clear()
        self.deps.register_channel(leg, self)
        self._db(self.deps.store.event, self.call_id, self.tenant_id, "transfer", number=target)
        ari = self.deps.ari
        try:
            await ari.originate(
                f"Local/{target}@{self.deps.transfer_context}/n",
                app=ari.settings.app,
                app_args="transfer",
                caller_id=self.channel.caller.number,
                timeout_s=self.deps.transfer_timeout_s,
                channel_id=leg,
            )
        except AriError as exc:
            return await self._transfer_failed(target, str(exc))
        await _wait_any(
            self._xfer_up.wait(),
            self._xfer_gone.wait(),
            self.caller_gone.wait(),
            timeout=self.deps.transfer_timeout_s + 5,
        )
        if self.caller_gone.is_set() or not self._xfer_up.is_set() or self._xfer_gone.is_set():
            await self._hangup_leg(leg)
            reason = (
                "caller hung up" if self.caller_gone.is_set() else (self.xfer_cause or "no answer")
            )
            return await self._transfer_failed(target, reason)
        try:
            await ari.add_channels(self.bridge_id, [leg])
        except AriError as exc:
            await self._hangup_leg(leg)
            return await self._transfer_failed(target, str(exc))
        # From here the caller talks to a person: take the agent's media leg out.
        await self._close_media()
        self.transferred = True
        self.outcome = "transferred"
        log.info("call %s: transferred to %s", self.call_id, target)
        self._db(
            self.deps.store.event, self.call_id, self.tenant_id, "transfer_connected", number=target
        )
        return True

    async def _transfer_failed(self, number: str, reason: str) -> bool:
        log.info("call %s: transfer to %s failed: %s", self.call_id, number, reason)
        self.deps.unregister_channel(self.xfer_channel_id)
        self.xfer_channel_id = ""
        if self.sm.can(CallState.LISTENING) and self.sm.state != CallState.ENDED:
            self.sm.to(CallState.LISTENING)
        self._db(
            self.deps.store.event,
            self.call_id,
            self.tenant_id,
            "transfer_failed",
            number=number,
            reason=reason[:500],
        )
        return False

    async def _hangup_leg(self, channel_id: str) -> None:
        try:
            await self.deps.ari.hangup(channel_id)
        except AriError as exc:
            if not exc.not_found and exc.status != 0:
                log.warning("call %s: hangup of %s failed: %s", self.call_id, channel_id, exc)

    async def _fall_back(self, reason: str) -> bool:
        """Send the caller to the dialplan's fallback (message + voicemail/forward)
        instead of hanging up on them. False when that is not possible."""
        context = self.deps.fallback_context
        if not context or self.caller_gone.is_set() or self.handed_off:
            return False
        # Set before the request: its StasisEnd may arrive before the response does.
        previous_by, previous_cause = self.hangup_by, self.hangup_cause
        self.handed_off = True
        self.hangup_by = self.hangup_by or "system"
        self.hangup_cause = f"fallback: {reason}"[:64]
        try:
            await self.deps.ari.continue_in_dialplan(self.channel_id, context, "s", 1)
        except AriError as exc:
            log.warning("call %s: fallback to dialplan failed: %s", self.call_id, exc)
            self.handed_off = False
            self.hangup_by, self.hangup_cause = previous_by, previous_cause
            return False
        log.warning("call %s: handed to the dialplan fallback (%s)", self.call_id, reason)
        if self.call_id:
            self._db(
                self.deps.store.event, self.call_id, self.tenant_id, "fallback", reason=reason[:500]
            )
        return True

    async def hangup(self, reason: str = "") -> None:
        """Hang up from our side (conversation finished, timeout...)."""
        log.info("call %s: hanging up (%s)", self.call_id, reason or "no reason given")
        self.hangup_by = self.hangup_by or "agent"
        self._db(
            self.deps.store.event, self.call_id, self.tenant_id, "hangup", by="agent", reason=reason
        )
        if self.media is not None:
            await self.media.wait_played()
        await self._hangup_caller("normal")

    async def _hangup_caller(self, reason: str) -> None:
        self.hangup_by = self.hangup_by or "system"
        try:
            await self.deps.ari.hangup(self.channel_id, reason)
        except AriError as exc:
            if not exc.not_found and exc.status != 0:
                log.warning("call %s: hangup failed: %s", self.call_id, exc)
        await _wait_any(self.caller_gone.wait(), timeout=2.0)

    async def _close_media(self) -> None:
        if self.media_channel_id:
            try:
                await self.deps.ari.hangup(self.media_channel_id)
            except AriError as exc:
                if not exc.not_found and exc.status != 0:
                    log.warning("call %s: media hangup failed: %s", self.call_id, exc)
        if self.media is not None:
            await self.media.close()

    async def _finish(self) -> None:
        try:
            await self._close_media()
            if self.xfer_channel_id:
                if not self._xfer_gone.is_set():
                    await self._hangup_leg(self.xfer_channel_id)
                self.deps.unregister_channel(self.xfer_channel_id)
            if self.bridge_id:
                try:
                    await self.deps.ari.destroy_bridge(self.bridge_id)
                except AriError as exc:
                    if not exc.not_found and exc.status != 0:
                        log.warning("call %s: bridge destroy failed: %s", self.call_id, exc)
            if self.caller_gone.is_set() and not self.handed_off:
                # ChannelDestroyed carries Asterisk's final hang-up cause; it follows the
                # hang-up request within milliseconds.
                await _wait_any(self.caller_destroyed.wait(), timeout=2.0)
            if self.sm.can(CallState.ENDED):
                self.sm.to(CallState.ENDED)
            fields: dict[str, Any] = {}
            if self.recorder is not None:
                await self.recorder.close()
                if not self.recorder.failed:
                    fields["recording_path"] = str(self.recorder.path)
            if self.media is not None:
                fields["caller_audio_s"] = round(self.media.caller_audio_s, 3)
            fields["data"] = {"hangup_by": self.hangup_by or "caller"}
            if self.dtmf:
                fields["data"]["dtmf"] = self.dtmf
            if self.result:
                fields["data"]["result"] = _jsonable(self.result)
            await self._db_wait()
            if self.call_id:
                await self._thread(
                    self.deps.store.end,
                    self.call_id,
                    outcome=self.outcome,
                    hangup_cause=self.hangup_cause or "",
                    hangup_code=self.hangup_code,
                    ended_at=self.ended_at or utcnow(),
                    **fields,
                )
                await self._save_lead()
                log.info(
                    "call %s: ended outcome=%s cause=%s(%s) caller_audio=%.2fs",
                    self.call_id,
                    self.outcome or "completed",
                    self.hangup_cause or "-",
                    self.hangup_code,
                    fields.get("caller_audio_s", 0.0),
                )
        finally:
            if self.media_channel_id:
                self.deps.unregister_channel(self.media_channel_id)
            self.done.set()

    async def _save_lead(self) -> None:
        """Hand a lead to the lead store. It is already in calls.data, so never lost."""
        sink = self.deps.lead_sink
        if not isinstance(self.result.get("lead"), dict) or sink is None:
            return
        if self.tenant_id is None:
            return
        if not has_caller_data(self.result):
            # Silence, a misdial, a robocall: no lead to deliver to the agents. The
            # call row (outcome abandoned, with the caller id) is there for a call-back.
            log.info(
                "call %s: no lead, the caller left nothing to act on (outcome %s)",
                self.call_id,
                self.result.get("outcome"),
            )
            await self._thread(
                self.deps.store.event,
                self.call_id,
                self.tenant_id,
                "lead_skipped",
                outcome=str(self.result.get("outcome") or ""),
            )
            return
        try:
            lead_id = await self._thread(sink, self.tenant_id, self.call_id, self.result)
        except Exception as exc:
            log.exception("call %s: lead not stored (kept in the call row)", self.call_id)
            await self._thread(
                self.deps.store.event,
                self.call_id,
                self.tenant_id,
                "lead_failed",
                error=str(exc)[:500],
            )
            return
        await self._thread(
            self.deps.store.event,
            self.call_id,
            self.tenant_id,
            "lead_saved",
            lead_id=_jsonable(lead_id),
        )


class SessionAudioOut:
    """AudioOut that also moves the call between greeting/speaking and listening."""

    def __init__(self, media: MediaConnection | AudioSocketConnection, sm: StateMachine) -> None:
        self.media = media
        self.sm = sm
        self._spoke = False

    async def play(self, pcm: bytes) -> None:
        if self.sm.state in (CallState.RINGING, CallState.LISTENING):
            first = not self._spoke and self.sm.can(CallState.GREETING)
            self.sm.to(CallState.GREETING if first else CallState.SPEAKING)
        self._spoke = True
        await self.media.play(pcm)

    async def flush(self) -> None:
        await self.media.flush()
        if self.sm.can(CallState.LISTENING) and self.sm.state != CallState.TRANSFERRING:
            self.sm.to(CallState.LISTENING)

    async def wait_played(self) -> None:
        await self.media.wait_played()
        if not self.media.speaking and self.sm.state in (CallState.GREETING, CallState.SPEAKING):
            self.sm.to(CallState.LISTENING)

    @property
    def speaking(self) -> bool:
        return self.media.speaking


class SessionControl:
    """CallControl handed to the conversation."""

    def __init__(self, session: CallSession) -> None:
        self.session = session

    async def transfer(self, number: str) -> bool:
        return await self.session.transfer(number)

    async def hangup(self, reason: str = "") -> None:
        await self.session.hangup(reason)

    async def record_turn(self, speaker: str, text: str, **fields: Any) -> None:
        s = self.session
        # Columns of Turn are stored as such; anything else goes to turn.data, so a new
        # field from the agent never makes the row fail.
        columns = {k: v for k, v in fields.items() if k in TURN_COLUMNS}
        extra = {k: v for k, v in fields.items() if k not in TURN_COLUMNS}
        if extra:
            columns["data"] = _jsonable({**dict(columns.get("data") or {}), **extra})
        s._db(s.deps.store.add_turn, s.call_id, s.tenant_id, speaker, text, **columns)

    async def event(self, kind: str, **data: Any) -> None:
        s = self.session
        s._db(s.deps.store.event, s.call_id, s.tenant_id, kind, **_jsonable(data))


def _tenant_snapshot(tenant: Any) -> dict[str, Any]:
    keys = (
        "id",
        "slug",
        "name",
        "language",
        "timezone",
        "greeting",
        "prompt_template",
        "questions",
        "faq",
        "zones",
        "premium_zones",
        "vocabulary",
        "voice",
        "business_hours",
        "holidays",
        "transfer_number",
        "settings",
    )
    snap = {k: getattr(tenant, k) for k in keys}
    snap["numbers"] = [n.e164 for n in tenant.numbers]
    return snap


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


async def _wait_any(*aws: Awaitable[Any], timeout: float) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
