"""RTP media for the simulated caller: a paced G.711 sender and a receiver.

The sender emits one 20 ms packet per tick for the whole call (silence between
utterances, like a real phone without VAD). Tick ``n`` is due at
``start + n * 20 ms`` on the monotonic clock, so a late wake-up is followed by
a catch-up packet instead of an ever-growing delay (no drift).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from centralino.audio.g711 import ULAW_SILENCE, alaw_decode, ulaw_decode, ulaw_encode
from centralino.simcaller.audio import FRAME_S, FRAME_SAMPLES

log = logging.getLogger(__name__)

DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14}
DTMF_EVENTS["D"] = 15
Clock = Callable[[], float]


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    marker: bool
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes

    def to_bytes(self) -> bytes:
        b1 = (self.marker << 7) | (self.payload_type & 0x7F)
        return (
            struct.pack(
                "!BBHII", 0x80, b1, self.seq & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc
            )
            + self.payload
        )


def parse_rtp(data: bytes) -> RtpPacket | None:
    """Parse an RTP packet; ``None`` for RTCP or garbage."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    b0, b1, seq, ts, ssrc = struct.unpack_from("!BBHII", data)
    pt = b1 & 0x7F
    if 72 <= pt <= 76:  # RTCP sharing the port (SR/RR/SDES/BYE/APP)
        return None
    offset = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:  # header extension
        if len(data) < offset + 4:
            return None
        ext_words = struct.unpack_from("!H", data, offset + 2)[0]
        offset += 4 + 4 * ext_words
    end = len(data)
    if b0 & 0x20:  # padding
        end -= data[-1]
    if offset > end:
        return None
    return RtpPacket(pt, bool(b1 & 0x80), seq, ts, ssrc, data[offset:end])


def dtmf_payload(event: int, end: bool, volume: int, duration: int) -> bytes:
    """RFC 4733 telephone-event payload."""
    return struct.pack("!BBH", event, (0x80 if end else 0) | (volume & 0x3F), duration & 0xFFFF)


@dataclass
class ReceivedFrame:
    at: float  # monotonic arrival time
    pcm: np.ndarray  # int16 at 8 kHz
    seq: int
    ssrc: int


@dataclass
class _AudioJob:
    payload: bytes
    future: asyncio.Future[tuple[float, float]]
    offset: int = 0
    started: float = 0.0


@dataclass
class _DtmfJob:
    digits: str
    future: asyncio.Future[tuple[float, float]]
    duration_ticks: int
    gap_ticks: int
    index: int = 0  # current digit
    tick: int = 0  # packet within the current digit (tone, 3 end packets, gap)
    event_ts: int = 0
    started: float = 0.0


@dataclass
class RtpStats:
    sent_packets: int = 0
    sent_audio_packets: int = 0
    received_packets: int = 0
    lost_packets: int = 0
    late_ticks: int = 0
    max_send_lag_ms: float = 0.0
    payload_types: set[int] = field(default_factory=set)
    dtmf_received: list[str] = field(default_factory=list)


class RtpSession(asyncio.DatagramProtocol):
    """One call's media: bind, then ``start(remote)``; ``play()``/``dtmf()`` queue sound."""

    def __init__(
        self, clock: Clock = time.monotonic, on_frame: Callable[[ReceivedFrame], None] | None = None
    ) -> None:
        self.clock = clock
        self.on_frame = on_frame
        self.ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._ts_base = secrets.randbits(32)
        self.transport: asyncio.DatagramTransport | None = None
        self.local_port = 0
        self.remote: tuple[str, int] | None = None
        self.audio_pt = 0
        self.dtmf_pt: int | None = None
        self.receiving = False
        self.frames: list[ReceivedFrame] = []
        self.stats = RtpStats()
        self._jobs: deque[_AudioJob | _DtmfJob] = deque()
        self._sender: asyncio.Task[None] | None = None
        self._first_packet = True
        self._last_seq: dict[int, int] = {}
        self._dtmf_seen: dict[int, int] = {}

    # -- socket ---------------------------------------------------------------

    async def bind(self, host: str) -> int:
        """Bind an even port (RTP convention, RTCP would be port + 1)."""
        loop = asyncio.get_running_loop()
        last_error: OSError | None = None
        for _ in range(50):
            port = random.randrange(20000, 60000, 2)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((host, port))
            except OSError as exc:
                sock.close()
                last_error = exc
                continue
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            transport, _ = await loop.create_datagram_endpoint(lambda: self, sock=sock)
            self.transport = transport
            self.local_port = port
            return port
        raise OSError(f"no free RTP port on {host}: {last_error}")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        now = self.clock()
        pkt = parse_rtp(data)
        if pkt is None or not self.receiving:
            return
        self.stats.received_packets += 1
        self.stats.payload_types.add(pkt.payload_type)
        last = self._last_seq.get(pkt.ssrc)
        if last is not None:
            gap = (pkt.seq - last) & 0xFFFF
            if 1 < gap < 1000:
                self.stats.lost_packets += gap - 1
        self._last_seq[pkt.ssrc] = pkt.seq
        if self.dtmf_pt is not None and pkt.payload_type == self.dtmf_pt:
            self._on_dtmf(pkt)
            return
        if pkt.payload_type == 0:
            pcm = ulaw_decode(pkt.payload)
        elif pkt.payload_type == 8:
            pcm = alaw_decode(pkt.payload)
        else:
            return  # comfort noise or a codec we did not offer
        frame = ReceivedFrame(now, pcm, pkt.seq, pkt.ssrc)
        self.frames.append(frame)
        if self.on_frame is not None:
            self.on_frame(frame)

    def _on_dtmf(self, pkt: RtpPacket) -> None:
        if len(pkt.payload) < 4:
            return
        event = pkt.payload[0]
        # One digit per event timestamp (start + end retransmissions share it).
        if self._dtmf_seen.get(pkt.ssrc) == pkt.timestamp:
            return
        self._dtmf_seen[pkt.ssrc] = pkt.timestamp
        for digit, code in DTMF_EVENTS.items():
            if code == event:
                self.stats.dtmf_received.append(digit)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable when the far end closed its port: not fatal.
        log.debug("RTP socket error: %s", exc)

    # -- sending --------------------------------------------------------------

    def start(self, remote: tuple[str, int], audio_pt: int = 0, dtmf_pt: int | None = None) -> None:
        self.remote = remote
        self.audio_pt = audio_pt
        self.dtmf_pt = dtmf_pt
        self.receiving = True
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_loop())

    def play(self, samples: np.ndarray) -> asyncio.Future[tuple[float, float]]:
        """Queue 8 kHz int16 audio; the future gives (first packet, last packet end) times."""
        fut: asyncio.Future[tuple[float, float]] = asyncio.get_running_loop().create_future()
        self._jobs.append(_AudioJob(ulaw_encode(samples), fut))
        return fut

    def dtmf(
        self, digits: str, duration_ms: int = 120, gap_ms: int = 80
    ) -> asyncio.Future[tuple[float, float]]:
        """Queue RFC 4733 digits (needs a telephone-event payload type in the answer)."""
        fut: asyncio.Future[tuple[float, float]] = asyncio.get_running_loop().create_future()
        if self.dtmf_pt is None:
            fut.set_exception(RuntimeError("the far end did not accept telephone-event (RFC 4733)"))
            return fut
        self._jobs.append(_DtmfJob(digits, fut, max(2, duration_ms // 20), max(1, gap_ms // 20)))
        return fut

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    async def stop(self) -> None:
        self.receiving = False
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
        for job in self._jobs:
            if not job.future.done():
                job.future.cancel()
        self._jobs.clear()
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    async def _send_loop(self) -> None:
        t0 = self.clock()
        n = 0
        while True:
            due = t0 + n * FRAME_S
            delay = due - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                lag = -delay * 1000.0
                if lag > 5.0:
                    self.stats.late_ticks += 1
                self.stats.max_send_lag_ms = max(self.stats.max_send_lag_ms, lag)
            self._send_tick(n, due)
            n += 1

    def _send(self, pt: int, marker: bool, ts: int, payload: bytes) -> None:
        if self.transport is None or self.remote is None:
            return
        pkt = RtpPacket(pt, marker, self._seq, ts, self.ssrc, payload)
        self._seq = (self._seq + 1) & 0xFFFF
        self.transport.sendto(pkt.to_bytes(), self.remote)
        self.stats.sent_packets += 1

    def _send_tick(self, n: int, due: float) -> None:
        ts = (self._ts_base + n * FRAME_SAMPLES) & 0xFFFFFFFF
        job = self._jobs[0] if self._jobs else None
        if isinstance(job, _AudioJob):
            if job.offset == 0:
                job.started = due
            chunk = job.payload[job.offset : job.offset + FRAME_SAMPLES]
            marker = job.offset == 0 or self._first_packet
            job.offset += FRAME_SAMPLES
            if len(chunk) < FRAME_SAMPLES:
                chunk = chunk + bytes([ULAW_SILENCE]) * (FRAME_SAMPLES - len(chunk))
            self._send(self.audio_pt, marker, ts, chunk)
            self.stats.sent_audio_packets += 1
            if job.offset >= len(job.payload):
                self._jobs.popleft()
                if not job.future.done():
                    job.future.set_result((job.started, due + FRAME_S))
        elif isinstance(job, _DtmfJob) and self.dtmf_pt is not None:
            self._dtmf_tick(job, ts, due)
        else:
            self._send(self.audio_pt, self._first_packet, ts, bytes([ULAW_SILENCE]) * FRAME_SAMPLES)
        self._first_packet = False

    def _dtmf_tick(self, job: _DtmfJob, ts: int, due: float) -> None:
        assert self.dtmf_pt is not None
        if job.index == 0 and job.tick == 0:
            job.started = due
        event = DTMF_EVENTS[job.digits[job.index]]
        tone = job.duration_ticks
        if job.tick == 0:
            job.event_ts = ts
        if job.tick < tone:
            duration = (job.tick + 1) * FRAME_SAMPLES
            self._send(
                self.dtmf_pt, job.tick == 0, job.event_ts, dtmf_payload(event, False, 10, duration)
            )
        elif job.tick < tone + 3:
            # The end packet is sent three times (RFC 4733 section 2.5.1.4).
            duration = tone * FRAME_SAMPLES
            self._send(self.dtmf_pt, False, job.event_ts, dtmf_payload(event, True, 10, duration))
        else:
            self._send(self.audio_pt, False, ts, bytes([ULAW_SILENCE]) * FRAME_SAMPLES)
        job.tick += 1
        if job.tick >= tone + 3 + job.gap_ticks:
            job.tick = 0
            job.index += 1
            if job.index >= len(job.digits):
                self._jobs.popleft()
                if not job.future.done():
                    job.future.set_result((job.started, due + FRAME_S))
