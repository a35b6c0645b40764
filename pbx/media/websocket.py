"""Call audio over chan_websocket (Asterisk >= 22.6) in server mode.

Facts this module relies on (checked against Asterisk 22.10):

* The controller creates the externalMedia channel with ``transport=websocket``,
  ``connection_type=server``, ``encapsulation=none``, ``format=slin16`` and its
  own ``channelId``, then connects to ``ws://HOST:HTTP_PORT/media/<id>`` where
  ``<id>`` is the channel variable ``MEDIA_WEBSOCKET_CONNECTION_ID``.
* BINARY messages carry media both ways. Asterisk slices what we send into
  ``optimal_frame_size`` frames (640 bytes for slin16) and silently DROPS a
  trailing partial frame, so we always send whole frames. A single message over
  ~65,500 bytes kills the call, so we send small chunks.
* Asterisk's queue holds 1000 frames (20 s), announces ``MEDIA_XOFF`` at 900 and
  ``MEDIA_XON`` at 800, and drops whole messages when full. We pace ourselves to
  stay a fraction of a second ahead of real time instead, which also keeps a
  barge-in ``FLUSH_MEDIA`` cheap.
* TEXT messages are control: we send ``MARK_MEDIA <id>`` after the audio and
  Asterisk answers ``MEDIA_MARK_PROCESSED <id>`` when playback reaches it; that
  is how :meth:`MediaConnection.wait_played` knows the caller heard everything.
  ``FLUSH_MEDIA`` drops queued audio (and queued marks), ``HANGUP`` hangs up,
  ``GET_STATUS`` reports the queue. Events arrive as plain text
  (``MEDIA_START connection_id:.. optimal_frame_size:640 ...``) or JSON when
  chan_websocket.conf sets ``control_message_format = json``; both are parsed
  and commands are sent in the format the channel uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp

from agent.conversation import FRAME_BYTES, SAMPLE_RATE

log = logging.getLogger(__name__)

BYTES_PER_SECOND = SAMPLE_RATE * 2
# 200 ms per message: far below the 65,500-byte limit, few messages per second.
CHUNK_BYTES = FRAME_BYTES * 10
MAX_MESSAGE_BYTES = 65_000


class MediaError(RuntimeError):
    pass


@dataclass(frozen=True)
class MediaEvent:
    """A TEXT event from chan_websocket, parsed from plain text or JSON."""

    name: str
    fields: dict[str, str] = field(default_factory=dict)
    arg: str = ""  # plain-text positional argument (mark / correlation id)

    @classmethod
    def parse(cls, text: str) -> MediaEvent:
        text = text.strip()
        if text.startswith("{"):
            data = json.loads(text)
            name = str(data.pop("event", ""))
            flat = {k: str(v) for k, v in data.items() if not isinstance(v, dict | list)}
            return cls(name=name, fields=flat, arg=flat.get("correlation_id", ""))
        head, _, rest = text.partition(" ")
        fields: dict[str, str] = {}
        args: list[str] = []
        for token in rest.split():
            key, sep, value = token.partition(":")
            if sep and key.isidentifier():
                fields[key] = value
            else:
                args.append(token)
        return cls(name=head, fields=fields, arg=" ".join(args))


class MediaConnection:
    """One call's media websocket: caller audio in, agent audio out (AudioOut)."""

    def __init__(
        self,
        url: str,
        *,
        session: aiohttp.ClientSession,
        lead_s: float = 0.4,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.url = url
        self._session = session
        self._lead_s = lead_s
        self._connect_timeout_s = connect_timeout_s
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._json_control = False
        self.media_started = asyncio.Event()
        self.closed = asyncio.Event()
        self.optimal_frame_size = FRAME_BYTES
        self.media_format = ""
        # Caller audio, as received.
        self.bytes_received = 0
        self._in_queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._listeners: list[Callable[[bytes], None]] = []
        # Outgoing audio and marks, in order.
        self._out: deque[tuple[str, bytes | str]] = deque()
        self._out_ready = asyncio.Event()
        self._xon = asyncio.Event()
        self._xon.set()
        self._marks: dict[str, asyncio.Future[None]] = {}
        self._mark_ids = itertools.count(1)
        self._play_until = 0.0
        self.bytes_sent = 0
        self._tasks: list[asyncio.Task[None]] = []
        # The last control events (for diagnostics), bounded for long calls.
        self.events: deque[MediaEvent] = deque(maxlen=200)

    # -- lifecycle ------------------------------------------------------------

    async def connect(self) -> None:
        try:
            self._ws = await asyncio.wait_for(
                self._session.ws_connect(self.url, autoping=True, max_msg_size=0),
                self._connect_timeout_s,
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise MediaError(f"cannot connect media websocket {self.url}: {exc!r}") from exc
        self._tasks = [
            asyncio.create_task(self._reader(), name=f"media-read {self.url}"),
            asyncio.create_task(self._sender(), name=f"media-send {self.url}"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        self._finish()

    def _finish(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self._in_queue.put_nowait(None)
        for fut in self._marks.values():
            if not fut.done():
                fut.set_result(None)
        self._marks.clear()
        self._out.clear()
        self._out_ready.set()

    # -- caller audio ----------------------------------------------------------

    def add_listener(self, callback: Callable[[bytes], None]) -> None:
        """Called synchronously with every caller frame (recording, metering)."""
        self._listeners.append(callback)

    async def frames(self) -> AsyncIterator[bytes]:
        """Caller audio frames until the call ends."""
        while True:
            frame = await self._in_queue.get()
            if frame is None:
                self._in_queue.put_nowait(None)  # let other readers end too
                return
            yield frame

    @property
    def caller_audio_s(self) -> float:
        return self.bytes_received / BYTES_PER_SECOND

    async def _reader(self) -> None:
        assert self._ws is not None
        try:
            async for msg in self._ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    data: bytes = msg.data
                    self.bytes_received += len(data)
                    for cb in self._listeners:
                        cb(data)
                    # Bounded: a conversation that stops reading must not grow memory
                    # without limit; the recording listener above still gets every frame.
                    if self._in_queue.qsize() < 3000:
                        self._in_queue.put_nowait(data)
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    self._on_text(msg.data)
                elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                    break
        finally:
            self._finish()

    def _on_text(self, text: str) -> None:
        try:
            event = MediaEvent.parse(text)
        except ValueError:
            log.warning("unparseable media event %r", text[:200])
            return
        self.events.append(event)
        if event.name == "MEDIA_START":
            self._json_control = text.lstrip().startswith("{")
            self.media_format = event.fields.get("format", "")
            try:
                self.optimal_frame_size = int(event.fields.get("optimal_frame_size", FRAME_BYTES))
            except ValueError:
                self.optimal_frame_size = FRAME_BYTES
            if self.media_format and self.media_format != "slin16":
                log.warning("media websocket format is %s, expected slin16", self.media_format)
            self.media_started.set()
        elif event.name == "MEDIA_MARK_PROCESSED":
            fut = self._marks.pop(event.arg, None)
            if fut is not None and not fut.done():
                fut.set_result(None)
        elif event.name == "MEDIA_XOFF":
            log.debug("media XOFF")
            self._xon.clear()
        elif event.name == "MEDIA_XON":
            log.debug("media XON")
            self._xon.set()
        elif event.name == "ERROR":
            log.warning("chan_websocket reported an error: %s", text[:200])
        else:
            log.debug("media event %s", text[:200])

    # -- agent audio (AudioOut) -----------------------------------------------

    async def play(self, pcm: bytes) -> None:
        if self.closed.is_set() or not pcm:
            return
        self._out.append(("audio", bytes(pcm)))
        self._out_ready.set()

    async def flush(self) -> None:
        self._out.clear()
        for fut in self._marks.values():
            if not fut.done():
                fut.set_result(None)
        self._marks.clear()
        self._play_until = time.monotonic()
        await self.send_command("FLUSH_MEDIA")

    async def wait_played(self) -> None:
        if self.closed.is_set():
            return
        mark = f"m{next(self._mark_ids)}"
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._marks[mark] = fut
        self._out.append(("mark", mark))
        self._out_ready.set()
        await fut

    @property
    def speaking(self) -> bool:
        return bool(self._out) or time.monotonic() < self._play_until

    async def send_command(self, command: str, **params: str) -> None:
        if self._ws is None or self._ws.closed:
            return
        if self._json_control:
            text = json.dumps({"command": command, **params})
        else:
            text = " ".join([command, *params.values()])
        try:
            await self._ws.send_str(text)
        except (aiohttp.ClientError, ConnectionError) as exc:
            log.debug("media command %s not sent: %s", command, exc)

    async def hangup(self) -> None:
        await self.send_command("HANGUP")

    async def _sender(self) -> None:
        assert self._ws is not None
        await self.media_started.wait()
        frame = self.optimal_frame_size or FRAME_BYTES
        while not self.closed.is_set():
            if not self._out:
                self._out_ready.clear()
                await self._out_ready.wait()
                continue
            kind, payload = self._out[0]
            if kind == "mark":
                self._out.popleft()
                assert isinstance(payload, str)
                if self._json_control:
                    await self.send_command("MARK_MEDIA", correlation_id=payload)
                else:
                    await self.send_command("MARK_MEDIA", id=payload)
                continue
            assert isinstance(payload, bytes)
            chunk, rest = payload[:CHUNK_BYTES], payload[CHUNK_BYTES:]
            if len(chunk) % frame:
                chunk += b"\x00" * (frame - len(chunk) % frame)
            # Stay at most lead_s ahead of what the caller is hearing.
            ahead = self._play_until - time.monotonic()
            if ahead > self._lead_s:
                await asyncio.sleep(ahead - self._lead_s)
                continue  # re-check: a flush may have emptied the queue meanwhile
            await self._xon.wait()
            if rest:
                self._out[0] = ("audio", rest)
            else:
                self._out.popleft()
            try:
                await self._ws.send_bytes(chunk)
            except (aiohttp.ClientError, ConnectionError) as exc:
                log.debug("media websocket send failed: %s", exc)
                return
            self.bytes_sent += len(chunk)
            now = time.monotonic()
            self._play_until = max(self._play_until, now) + len(chunk) / BYTES_PER_SECOND
