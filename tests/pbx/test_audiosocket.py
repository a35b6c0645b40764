"""AudioSocket media transport (``pbx/media/audiosocket.py``).

Protocol units run the real server against a real TCP client written here that
speaks AudioSocket the way chan_audiosocket does (UUID first, then 8 kHz slin
audio / DTMF / hangup); the bad-input tests send what a broken peer would. The
real-Asterisk call over AudioSocket is ``test_calls.py``'s main call test,
parametrized over both transports; the transport chosen by ``auto`` is checked
here against the real Asterisk 22.
"""

from __future__ import annotations

import asyncio
import struct
import time
import uuid
from collections.abc import AsyncIterator

import numpy as np
import pytest

from agent.conversation import FRAME_BYTES
from pbx.media.audiosocket import (
    KIND_AUDIO,
    KIND_DTMF,
    KIND_ERROR,
    KIND_HANGUP,
    KIND_UUID,
    WIRE_FRAME_BYTES,
    AudioSocketConnection,
    AudioSocketServer,
    choose_transport,
    encode,
    parse_version,
)
from pbx.settings import PbxSettings
from tests.pbx.conftest import PbxEnv


def tone(freq: float, seconds: float, rate: int) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return bytes((np.sin(2 * np.pi * freq * t) * 8000).astype("<i2").tobytes())


def dominant_hz(pcm: bytes, rate: int) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


class Peer:
    """A TCP client playing Asterisk's side of AudioSocket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, server: AudioSocketServer) -> Peer:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def hello(self, call_uuid: uuid.UUID) -> None:
        await self.send(encode(KIND_UUID, call_uuid.bytes))

    async def send_audio(self, pcm8k: bytes) -> None:
        for i in range(0, len(pcm8k), WIRE_FRAME_BYTES):
            await self.send(encode(KIND_AUDIO, pcm8k[i : i + WIRE_FRAME_BYTES]))

    async def read_message(self, timeout: float = 2.0) -> tuple[int, bytes]:
        kind, length = struct.unpack(
            ">BH", await asyncio.wait_for(self.reader.readexactly(3), timeout)
        )
        payload = (
            await asyncio.wait_for(self.reader.readexactly(length), timeout) if length else b""
        )
        return kind, payload

    async def closed_by_server(self, timeout: float = 2.0) -> bool:
        """True when the server closed the connection (EOF, or a reset)."""
        try:
            data = await asyncio.wait_for(self.reader.read(), timeout)
        except ConnectionResetError:
            return True
        return data == b"" or self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def server() -> AsyncIterator[AudioSocketServer]:
    srv = AudioSocketServer("127.0.0.1", 0, hello_timeout_s=1.0)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.close()


async def collect(conn: AudioSocketConnection) -> list[bytes]:
    return [frame async for frame in conn.frames()]


async def test_uuid_routes_each_connection_to_its_call(server: AudioSocketServer) -> None:
    """Two calls at once: each gets only its own caller's audio, resampled to slin16."""
    a, b = server.expect(), server.expect()
    assert a.uuid != b.uuid and server.port > 0
    peer_b, peer_a = await Peer.connect(server), await Peer.connect(server)
    await peer_b.hello(b.uuid)
    await peer_a.hello(a.uuid)
    await asyncio.wait_for(asyncio.gather(a.media_started.wait(), b.media_started.wait()), 2)
    await peer_a.send_audio(tone(400, 1.0, 8000))
    await peer_b.send_audio(tone(1000, 1.0, 8000))
    await peer_a.send(encode(KIND_HANGUP))
    await peer_b.send(encode(KIND_HANGUP))
    frames_a = await asyncio.wait_for(collect(a), 2)
    frames_b = await asyncio.wait_for(collect(b), 2)
    assert all(len(f) == FRAME_BYTES for f in frames_a + frames_b)
    # 1 s sent; the streaming resampler holds back a few ms of filter delay.
    assert 0.95 <= a.caller_audio_s <= 1.0 and 0.95 <= b.caller_audio_s <= 1.0
    assert len(frames_a) * FRAME_BYTES == a.bytes_received
    assert dominant_hz(b"".join(frames_a), 16000) == pytest.approx(400, abs=5)
    assert dominant_hz(b"".join(frames_b), 16000) == pytest.approx(1000, abs=5)
    peer_a.close()
    peer_b.close()


async def test_dtmf_and_caller_hangup(server: AudioSocketServer) -> None:
    conn = server.expect()
    keys: list[str] = []
    conn.add_dtmf_listener(keys.append)
    peer = await Peer.connect(server)
    await peer.hello(conn.uuid)
    await peer.send(encode(KIND_DTMF, b"5") + encode(KIND_DTMF, b"#"))
    await peer.send(encode(KIND_HANGUP))
    await asyncio.wait_for(conn.closed.wait(), 2)
    assert keys == ["5", "#"] and conn.dtmf == "5#"
    assert await collect(conn) == []  # audio_in ends with the call
    assert await peer.closed_by_server()
    assert conn.error == ""


async def test_agent_audio_is_paced_in_20ms_frames_and_wait_played(
    server: AudioSocketServer,
) -> None:
    """1 s of slin16 goes out as 50 frames of 320 bytes (8 kHz), in real time."""
    conn = server.expect()
    peer = await Peer.connect(server)
    await peer.hello(conn.uuid)
    await asyncio.wait_for(conn.media_started.wait(), 2)
    started = time.monotonic()
    await conn.play(tone(500, 1.0, 16000))
    assert conn.speaking
    waiter = asyncio.create_task(conn.wait_played())
    got: list[bytes] = []
    arrivals: list[float] = []
    while len(got) < 50:
        kind, payload = await peer.read_message()
        assert kind == KIND_AUDIO
        got.append(payload)
        arrivals.append(time.monotonic())
    await asyncio.wait_for(waiter, 2)
    played_after = time.monotonic() - started
    assert all(len(p) == WIRE_FRAME_BYTES for p in got)
    # Paced, not dumped: the frames span (almost) the second they last.
    assert arrivals[-1] - arrivals[0] >= 0.85
    # wait_played returned only once the last frame's play time had passed.
    assert played_after >= 0.95
    assert not conn.speaking
    audio = b"".join(got)
    assert dominant_hz(audio[1600:-1600], 8000) == pytest.approx(500, abs=5)
    await conn.close()
    peer.close()


async def test_flush_drops_queued_audio(server: AudioSocketServer) -> None:
    """Barge-in: after flush nothing more than the few frames already ahead arrives."""
    conn = server.expect()
    peer = await Peer.connect(server)
    await peer.hello(conn.uuid)
    await asyncio.wait_for(conn.media_started.wait(), 2)
    await conn.play(tone(500, 3.0, 16000))
    for _ in range(10):
        await peer.read_message()
    await conn.flush()
    await asyncio.wait_for(conn.wait_played(), 1)
    assert not conn.speaking
    late = 0
    with pytest.raises(TimeoutError):
        while True:
            await peer.read_message(timeout=0.3)
            late += 1
    assert late <= 4, late  # at most what was already sent ahead (60 ms) + one
    await conn.close()
    peer.close()


async def test_server_hangup_and_close(server: AudioSocketServer) -> None:
    conn = server.expect()
    peer = await Peer.connect(server)
    await peer.hello(conn.uuid)
    await asyncio.wait_for(conn.media_started.wait(), 2)
    await conn.hangup()
    assert await peer.read_message() == (KIND_HANGUP, b"")
    await conn.close()
    assert conn.closed.is_set()
    assert await peer.closed_by_server()
    await conn.play(b"\x00" * 640)  # after close: ignored, no error
    await asyncio.wait_for(conn.wait_played(), 1)


async def test_asterisk_error_message_ends_the_connection(server: AudioSocketServer) -> None:
    conn = server.expect()
    peer = await Peer.connect(server)
    await peer.hello(conn.uuid)
    await peer.send(encode(KIND_ERROR, b"\x02"))
    await asyncio.wait_for(conn.closed.wait(), 2)
    assert conn.error == "02"
    assert await peer.closed_by_server()


BAD_OPENINGS = {
    "unknown uuid": encode(KIND_UUID, uuid.uuid4().bytes),
    "audio before uuid": encode(KIND_AUDIO, b"\x00" * 320),
    "short uuid": encode(KIND_UUID, b"\x01" * 8),
    "garbage": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("name", list(BAD_OPENINGS))
async def test_bad_openings_are_refused_and_nothing_changes(
    server: AudioSocketServer, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    waiting = server.expect()
    peer = await Peer.connect(server)
    await peer.send(BAD_OPENINGS[name])
    assert await peer.closed_by_server()
    assert server.rejected, "the refusal was not recorded"
    assert "refused" in caplog.text
    # The call that was waiting is untouched and still gets its own connection.
    assert not waiting.media_started.is_set() and not waiting.closed.is_set()
    good = await Peer.connect(server)
    await good.hello(waiting.uuid)
    await asyncio.wait_for(waiting.media_started.wait(), 2)
    good.close()


async def test_silent_client_is_dropped_after_the_hello_timeout(server: AudioSocketServer) -> None:
    peer = await Peer.connect(server)
    assert await peer.closed_by_server(timeout=3)
    assert "no UUID" in server.rejected[-1]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (struct.pack(">BH", KIND_AUDIO, 0xFFFF), "audio payload of 65535"),
        (encode(KIND_AUDIO, b"\x00" * 321), "audio payload of 321"),
        (encode(0x42, b"xx"), "unknown message kind 0x42"),
        (encode(KIND_DTMF, b"12"), "DTMF payload of 2"),
    ],
)
async def test_bad_message_mid_call_closes_only_that_call(
    server: AudioSocketServer, bad: bytes, reason: str
) -> None:
    conn, other = server.expect(), server.expect()
    peer, other_peer = await Peer.connect(server), await Peer.connect(server)
    await peer.hello(conn.uuid)
    await other_peer.hello(other.uuid)
    await peer.send_audio(tone(300, 0.2, 8000))
    await peer.send(bad)
    await asyncio.wait_for(conn.closed.wait(), 2)
    assert reason in conn.error
    assert await peer.closed_by_server()
    frames = await collect(conn)  # what came before the bad message was kept
    assert len(frames) >= 8
    # The other call goes on.
    await other_peer.send_audio(tone(300, 0.2, 8000))
    await asyncio.sleep(0.1)
    assert not other.closed.is_set() and other.caller_audio_s > 0.15
    other_peer.close()


def test_transport_choice_by_asterisk_version() -> None:
    assert parse_version("22.10.1") == (22, 10)
    assert parse_version("certified-20.7-cert3") == (20, 7)
    assert parse_version("GIT-master-abc") is None
    assert choose_transport("auto", "22.10.1") == "websocket"
    assert choose_transport("auto", "22.6.0") == "websocket"
    assert choose_transport("auto", "23.0.0") == "websocket"
    assert choose_transport("auto", "22.5.2") == "audiosocket"
    assert choose_transport("auto", "20.7-cert3") == "audiosocket"
    assert choose_transport("auto", "18.26.0") == "audiosocket"
    assert choose_transport("auto", "GIT-master-abc") == "websocket"
    assert choose_transport("audiosocket", "22.10.1") == "audiosocket"
    assert PbxSettings(media_transport="audiosocket").media_transport == "audiosocket"
    with pytest.raises(ValueError, match="media_transport 'rtp'"):
        PbxSettings(media_transport="rtp")
    with pytest.raises(ValueError, match="audiosocket_port"):
        PbxSettings(audiosocket_port=70000)


@pytest.mark.asterisk
@pytest.mark.slow
async def test_auto_picks_websocket_on_asterisk_22_10(pbx_env: PbxEnv) -> None:
    """``auto`` reads the version from the real Asterisk's GET /asterisk/info."""
    info = await pbx_env.controller.ari.asterisk_info()
    assert parse_version(info["system"]["version"]) >= (22, 6)  # type: ignore[operator]
    assert pbx_env.controller.media_transport == "websocket"


@pytest.mark.asterisk
@pytest.mark.slow
@pytest.mark.parametrize("pbx_env", ["audiosocket"], indirect=True)
async def test_unreachable_audiosocket_server_hands_the_caller_to_the_fallback(
    pbx_env: PbxEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """Our AudioSocket server is gone (a real refused TCP connection for Asterisk): the
    caller is not hung up on, the dialplan fallback message answers instead."""
    from centralino.calls.models import Call
    from centralino.simcaller import place_call
    from tests.pbx.conftest import DEMO_DID

    assert pbx_env.controller.media_transport == "audiosocket"
    await pbx_env.controller.audiosocket.close()
    report = await place_call(
        DEMO_DID,
        port=pbx_env.asterisk.sip_port,
        script={"utterances": [], "hangup_after_ms": 6000},
        timeout=15,
    )
    await pbx_env.wait_idle()
    assert report.answered and report.heard.voiced_s > 2.0, report.summary()
    with pbx_env.db.session() as s:
        call = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
        assert call.outcome == "failed" and call.answered_at is None
        assert call.hangup_cause.startswith("fallback: controller error")
