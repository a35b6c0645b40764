"""Call audio over AudioSocket (chan_audiosocket): the transport for Asterisk 18-22.5.

Facts this module relies on (Asterisk docs "AudioSocket", res_audiosocket.c,
chan_audiosocket.c, res_ari externalMedia):

* Asterisk is the TCP *client*: ``POST /channels/externalMedia`` with
  ``encapsulation=audiosocket``, ``transport=tcp``, ``external_host=HOST:PORT`` and
  ``data=<uuid>`` creates ``AudioSocket/HOST:PORT/<uuid>``, which connects to us
  while the REST call runs and first sends the UUID. So the server listens before
  the request and the call registers its UUID before it (:meth:`AudioSocketServer.expect`).
* Every message is ``kind (1 byte) + length (2 bytes, big endian) + payload``.
  Kinds: 0x00 hangup, 0x01 UUID (16 bytes), 0x03 DTMF (1 ASCII byte),
  0x10 audio (signed linear 16-bit little endian, 8 kHz mono), 0xff error.
* Asterisk before 22.6 only understands 0x10 audio and 0x00 hangup from us, and
  reads every 0x10 payload as 8 kHz ``slin`` (the slin16 kinds exist only in
  newer releases), so the channel is created with ``format=slin`` and we resample
  between 8 kHz on the wire and the product's slin16 with soxr.
* There is no jitter buffer, queue, mark or flush on Asterisk's side: whatever we
  write is played as it arrives. We pace the audio ourselves in 20 ms frames a
  little ahead of real time; ``flush`` drops our own queue and ``wait_played``
  returns when our queue is sent and its last frame's play time (+40 ms) passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import struct
import time
import uuid
from collections.abc import AsyncIterator, Callable

import numpy as np
import soxr

from agent.conversation import FRAME_BYTES, SAMPLE_RATE

log = logging.getLogger(__name__)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF

WIRE_RATE = 8000
WIRE_FRAME_BYTES = WIRE_RATE * 2 * 20 // 1000  # 320: 20 ms of 8 kHz slin
BYTES_PER_SECOND = SAMPLE_RATE * 2
# Asterisk sends one frame per message (20 ms; 30 or 60 ms with another ptime): a
# payload over 1 s of audio is not something Asterisk sends, it is a broken peer.
MAX_AUDIO_PAYLOAD = WIRE_RATE * 2
HEADER = struct.Struct(">BH")
# Audio we send ahead of real time: absorbs event-loop jitter without building up
# a backlog that a barge-in could not take back (Asterisk has no flush).
LEAD_S = 0.06
# Asterisk plays a frame ~one frame after it arrives: wait_played allows for that.
PLAYED_MARGIN_S = 0.04


class AudioSocketError(RuntimeError):
    """A protocol violation by the peer: the connection is closed."""


def encode(kind: int, payload: bytes = b"") -> bytes:
    if len(payload) > 0xFFFF:
        raise ValueError(f"AudioSocket payload too long: {len(payload)} bytes")
    return HEADER.pack(kind, len(payload)) + payload


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")


class _Upsampler:
    """Caller audio 8 -> 16 kHz, streaming. soxr's "QQ" (cubic) keeps no look-ahead:
    the better filters hold back ~100 ms, which would delay every caller frame (and
    lose the last ones at hang-up) for no gain on 8 kHz telephone audio."""

    def __init__(self) -> None:
        self._stream = soxr.ResampleStream(WIRE_RATE, SAMPLE_RATE, 1, dtype="int16", quality="QQ")

    def __call__(self, pcm: bytes) -> bytes:
        return bytes(self._stream.resample_chunk(_samples(pcm)).astype("<i2").tobytes())


def downsample(pcm: bytes) -> bytes:
    """Agent audio 16 -> 8 kHz with soxr's anti-aliasing filter, one play() at a time:
    a stream would keep each utterance's tail in its filter until the next play()."""
    out = soxr.resample(_samples(pcm), SAMPLE_RATE, WIRE_RATE, quality="HQ")
    return bytes(np.asarray(out).astype("<i2").tobytes())


class AudioSocketConnection:
    """One call's AudioSocket: caller audio in (slin16 frames), agent audio out (AudioOut).

    Same surface as :class:`pbx.media.websocket.MediaConnection`, so the call session
    and the conversations do not care which transport carries the call.
    """

    def __init__(self, call_uuid: uuid.UUID, lead_s: float = LEAD_S) -> None:
        self.uuid = call_uuid
        self._lead_s = lead_s
        self.media_started = asyncio.Event()  # set when Asterisk connected and sent our UUID
        self.closed = asyncio.Event()
        self.bytes_received = 0  # slin16 bytes delivered to the caller-audio side
        self.bytes_sent = 0  # slin16 bytes of agent audio sent (before resampling)
        self.dtmf = ""
        self.error = ""
        self._writer: asyncio.StreamWriter | None = None
        self._in_queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._listeners: list[Callable[[bytes], None]] = []
        self._dtmf_listeners: list[Callable[[str], None]] = []
        self._up = _Upsampler()
        self._in_buf = bytearray()
        self._out = bytearray()  # 8 kHz wire audio waiting to be sent
        self._out_ready = asyncio.Event()
        self._play_until = 0.0
        self._sender_task: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------

    def attach(self, writer: asyncio.StreamWriter) -> None:
        """Called by the server once Asterisk's connection sent this UUID."""
        self._writer = writer
        self._sender_task = asyncio.create_task(
            self._sender(), name=f"audiosocket-send {self.uuid}"
        )
        self.media_started.set()

    async def close(self) -> None:
        if self._sender_task is not None:
            self._sender_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sender_task
        if self._writer is not None and not self._writer.is_closing():
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        self._finish()

    def _finish(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self._in_queue.put_nowait(None)
        self._out.clear()
        self._out_ready.set()

    # -- caller audio ----------------------------------------------------------

    def add_listener(self, callback: Callable[[bytes], None]) -> None:
        """Called synchronously with every caller frame (slin16, 640 bytes)."""
        self._listeners.append(callback)

    def add_dtmf_listener(self, callback: Callable[[str], None]) -> None:
        self._dtmf_listeners.append(callback)

    async def frames(self) -> AsyncIterator[bytes]:
        """Caller audio frames (slin16, 640 bytes) until the call ends."""
        while True:
            frame = await self._in_queue.get()
            if frame is None:
                self._in_queue.put_nowait(None)
                return
            yield frame

    @property
    def caller_audio_s(self) -> float:
        return self.bytes_received / BYTES_PER_SECOND

    def on_audio(self, payload: bytes) -> None:
        self._in_buf += self._up(payload)
        while len(self._in_buf) >= FRAME_BYTES:
            frame = bytes(self._in_buf[:FRAME_BYTES])
            del self._in_buf[:FRAME_BYTES]
            self.bytes_received += len(frame)
            for cb in self._listeners:
                cb(frame)
            # Bounded like the websocket media: a conversation that stops reading must
            # not grow memory; the recorder above still gets every frame.
            if self._in_queue.qsize() < 3000:
                self._in_queue.put_nowait(frame)

    def on_dtmf(self, digit: str) -> None:
        self.dtmf += digit
        for cb in self._dtmf_listeners:
            cb(digit)

    # -- agent audio (AudioOut) -----------------------------------------------

    async def play(self, pcm: bytes) -> None:
        if self.closed.is_set() or not pcm:
            return
        self.bytes_sent += len(pcm)
        self._out += downsample(bytes(pcm))
        self._out_ready.set()

    async def flush(self) -> None:
        # Asterisk holds nothing back: dropping our queue is the whole barge-in.
        self._out.clear()
        self._play_until = min(self._play_until, time.monotonic() + self._lead_s)

    async def wait_played(self) -> None:
        while not self.closed.is_set() and self._out:
            await asyncio.sleep(0.01)
        remaining = self._play_until + PLAYED_MARGIN_S - time.monotonic()
        if remaining > 0 and not self.closed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closed.wait(), remaining)

    @property
    def speaking(self) -> bool:
        return bool(self._out) or time.monotonic() < self._play_until

    async def hangup(self) -> None:
        await self._write(encode(KIND_HANGUP))

    async def _write(self, data: bytes) -> bool:
        writer = self._writer
        if writer is None or writer.is_closing():
            return False
        try:
            writer.write(data)
            await writer.drain()
        except (ConnectionError, OSError) as exc:
            log.debug("audiosocket %s: send failed: %s", self.uuid, exc)
            return False
        return True

    async def _sender(self) -> None:
        frame_s = WIRE_FRAME_BYTES / (WIRE_RATE * 2)
        while not self.closed.is_set():
            if not self._out:
                self._out_ready.clear()
                await self._out_ready.wait()
                continue
            now = time.monotonic()
            ahead = self._play_until - now
            if ahead > self._lead_s:
                await asyncio.sleep(ahead - self._lead_s)
                continue  # re-check: a flush may have emptied the queue meanwhile
            chunk = bytes(self._out[:WIRE_FRAME_BYTES])
            del self._out[:WIRE_FRAME_BYTES]
            if len(chunk) < WIRE_FRAME_BYTES:
                chunk += b"\x00" * (WIRE_FRAME_BYTES - len(chunk))
            if not await self._write(encode(KIND_AUDIO, chunk)):
                return
            self._play_until = max(self._play_until, now) + frame_s


class AudioSocketServer:
    """The TCP server Asterisk's AudioSocket channels connect to, one per controller.

    Each connection must start with the UUID of a call that :meth:`expect`-ed it; it
    is then handed to that call's :class:`AudioSocketConnection`. Anything else
    (unknown UUID, a first message that is not a UUID, an unknown kind, an oversize
    or malformed payload) is logged as a clear error and the connection closed.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, hello_timeout_s: float = 5.0):
        self.host = host
        self.port = port
        self.hello_timeout_s = hello_timeout_s
        self._server: asyncio.Server | None = None
        self._expected: dict[uuid.UUID, AudioSocketConnection] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self.rejected: list[str] = []  # why connections were refused (bounded)

    @property
    def address(self) -> str:
        """``HOST:PORT`` for externalMedia's ``external_host``."""
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("AudioSocket server listening on %s", self.address)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        for conn in list(self._expected.values()):
            conn._finish()
        self._expected.clear()

    def expect(self, call_uuid: uuid.UUID | None = None) -> AudioSocketConnection:
        """Register a call's UUID before creating its channel; returns its connection."""
        conn = AudioSocketConnection(call_uuid or uuid.uuid4())
        self._expected[conn.uuid] = conn
        return conn

    def forget(self, conn: AudioSocketConnection) -> None:
        self._expected.pop(conn.uuid, None)

    def _reject(self, peer: object, reason: str) -> None:
        log.error("AudioSocket connection from %s refused: %s", peer, reason)
        self.rejected = [*self.rejected[-49:], reason]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        conn: AudioSocketConnection | None = None
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            try:
                kind, payload = await asyncio.wait_for(read_message(reader), self.hello_timeout_s)
            except TimeoutError:
                raise AudioSocketError("no UUID message within the timeout") from None
            if kind != KIND_UUID:
                raise AudioSocketError(f"first message kind 0x{kind:02x}, expected UUID (0x01)")
            call_uuid = uuid.UUID(bytes=payload)
            conn = self._expected.pop(call_uuid, None)
            if conn is None:
                raise AudioSocketError(f"unknown UUID {call_uuid}")
            conn.attach(writer)
            log.info("AudioSocket %s connected from %s", call_uuid, peer)
            while True:
                kind, payload = await read_message(reader)
                if kind == KIND_AUDIO:
                    conn.on_audio(payload)
                elif kind == KIND_DTMF:
                    conn.on_dtmf(payload.decode("ascii", "replace"))
                elif kind == KIND_HANGUP:
                    log.info("AudioSocket %s: hangup", conn.uuid)
                    break
                elif kind == KIND_ERROR:
                    code = payload.hex() or "none"
                    conn.error = code
                    log.warning("AudioSocket %s: Asterisk reported error code %s", conn.uuid, code)
                    break
                else:  # pragma: no cover - read_message rejects unknown kinds
                    raise AudioSocketError(f"unexpected kind 0x{kind:02x}")
        except asyncio.IncompleteReadError:
            log.debug("AudioSocket from %s: connection closed", peer)
        except AudioSocketError as exc:
            self._reject(peer, str(exc))
            if conn is not None:
                conn.error = str(exc)
        except (ConnectionError, OSError) as exc:
            log.info("AudioSocket from %s: %s", peer, exc)
        except asyncio.CancelledError:
            pass  # server closing: end quietly (asyncio logs a cancelled handler as an error)
        finally:
            self._handlers.discard(task)
            if conn is not None:
                conn._finish()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def read_message(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One message; raises AudioSocketError on a malformed one (IncompleteReadError at EOF)."""
    kind, length = HEADER.unpack(await reader.readexactly(HEADER.size))
    if kind == KIND_UUID and length != 16:
        raise AudioSocketError(f"UUID payload of {length} bytes, expected 16")
    if kind == KIND_DTMF and length != 1:
        raise AudioSocketError(f"DTMF payload of {length} bytes, expected 1")
    if kind == KIND_AUDIO and (length > MAX_AUDIO_PAYLOAD or length % 2):
        raise AudioSocketError(f"audio payload of {length} bytes (max {MAX_AUDIO_PAYLOAD}, even)")
    if kind not in (KIND_HANGUP, KIND_UUID, KIND_DTMF, KIND_AUDIO, KIND_ERROR):
        raise AudioSocketError(f"unknown message kind 0x{kind:02x}")
    payload = await reader.readexactly(length) if length else b""
    return kind, payload


def parse_version(text: str) -> tuple[int, int] | None:
    """``22.10.1`` / ``certified-20.7-cert3`` -> (22, 10); None if there is no version."""
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def choose_transport(setting: str, asterisk_version: str) -> str:
    """``auto``: chan_websocket on Asterisk >= 22.6, AudioSocket before it."""
    if setting != "auto":
        return setting
    version = parse_version(asterisk_version)
    if version is None:
        log.warning("unknown Asterisk version %r: using websocket media", asterisk_version)
        return "websocket"
    return "websocket" if version >= (22, 6) else "audiosocket"
