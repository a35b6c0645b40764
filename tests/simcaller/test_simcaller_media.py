"""WAV input, RTP packets, paced sending, RFC 4733 DTMF and speech detection."""

from __future__ import annotations

import asyncio
import itertools
import struct
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from centralino.audio.g711 import ulaw_decode, ulaw_encode
from centralino.simcaller.audio import (
    AudioError,
    load_8k,
    read_wav,
    voiced_duration,
    write_ulaw_wav,
    write_wav,
)
from centralino.simcaller.rtp import ReceivedFrame, RtpPacket, RtpSession, parse_rtp
from centralino.simcaller.speech import SpeechTracker, merge_segments


def _write_pcm(path: Path, data: bytes, rate: int, width: int, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)


def test_read_wav_formats_and_resample(tmp_path: Path) -> None:
    t = np.arange(16000) / 16000.0
    tone = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    _write_pcm(tmp_path / "16k.wav", tone.tobytes(), 16000, 2)
    a = read_wav(tmp_path / "16k.wav")
    assert a.rate == 16000 and abs(a.duration_s - 1.0) < 1e-6
    y = load_8k(tmp_path / "16k.wav")
    assert abs(len(y) - 8000) <= 2
    spectrum = np.abs(np.fft.rfft(y.astype(np.float64)))
    assert abs(np.argmax(spectrum) * 8000 / len(y) - 440) < 2  # same pitch after resampling
    stereo = np.repeat(tone[:, None], 2, axis=1)
    _write_pcm(tmp_path / "st.wav", stereo.tobytes(), 16000, 2, channels=2)
    assert np.array_equal(read_wav(tmp_path / "st.wav").samples, tone)
    _write_pcm(tmp_path / "u8.wav", (tone // 256 + 128).astype(np.uint8).tobytes(), 16000, 1)
    assert np.max(np.abs(read_wav(tmp_path / "u8.wav").samples.astype(int) - tone)) <= 256
    write_ulaw_wav(tmp_path / "mu.wav", y)
    mu = read_wav(tmp_path / "mu.wav")
    assert mu.rate == 8000 and len(mu.samples) == len(y)


def test_read_wav_rejects_bad_files(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="no such WAV"):
        read_wav(tmp_path / "missing.wav")
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(AudioError, match="not a RIFF"):
        read_wav(tmp_path / "text.wav")
    fmt = struct.pack("<HHIIHH", 2, 1, 8000, 4000, 1, 4)  # MS ADPCM
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 4) + b"\0" * 4
    (tmp_path / "adpcm.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(AudioError, match="unsupported"):
        read_wav(tmp_path / "adpcm.wav")


def test_rtp_packet_roundtrip_with_csrc_extension_and_padding() -> None:
    pkt = RtpPacket(0, True, 65535, 0xFFFFFFF0, 0x12345678, b"\x01\x02")
    assert parse_rtp(pkt.to_bytes()) == pkt
    # CC=1, X=1 (one extension word), P=1 (3 padding bytes).
    head = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 1, 8, 7, 160, 99)
    raw = head + b"CSRC" + struct.pack("!HH", 0xBEDE, 1) + b"EXT!" + b"pay" + b"\0\0\x03"
    p = parse_rtp(raw)
    assert p is not None and p.payload == b"pay" and p.payload_type == 8 and not p.marker
    assert parse_rtp(b"\x80\xc8" + b"\0" * 30) is None  # RTCP sender report
    assert parse_rtp(b"\x00" * 20) is None


class _Sink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.packets: list[tuple[float, RtpPacket]] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        p = parse_rtp(data)
        if p is not None:
            self.packets.append((time.monotonic(), p))


async def _session_to_sink() -> tuple[RtpSession, _Sink, asyncio.DatagramTransport]:
    loop = asyncio.get_running_loop()
    sink = _Sink()
    transport, _ = await loop.create_datagram_endpoint(lambda: sink, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    session = RtpSession()
    await session.bind("127.0.0.1")
    session.start(("127.0.0.1", port), audio_pt=0, dtmf_pt=101)
    return session, sink, transport


async def test_paced_stream_has_consecutive_seq_timestamps_and_markers() -> None:
    session, sink, transport = await _session_to_sink()
    tone = (np.sin(np.arange(4000) * 0.3) * 8000).astype(np.int16)  # 0.5 s
    await asyncio.sleep(0.2)
    start, end = await session.play(tone)
    await asyncio.sleep(0.2)
    await session.stop()
    transport.close()
    pkts = [p for _, p in sink.packets]
    assert abs((end - start) - 0.5) < 1e-6  # 25 packets on the 20 ms grid
    assert session.stats.sent_audio_packets == 25
    assert len({p.ssrc for p in pkts}) == 1
    for a, b in itertools.pairwise(pkts):
        assert (b.seq - a.seq) & 0xFFFF == 1
        assert (b.timestamp - a.timestamp) & 0xFFFFFFFF == 160
        assert len(b.payload) == 160
    # Marker on the first packet of the stream and of the talk spurt only.
    marked = [i for i, p in enumerate(pkts) if p.marker]
    assert marked[0] == 0 and len(marked) == 2
    spurt = pkts[marked[1] : marked[1] + 25]
    assert (
        ulaw_decode(b"".join(p.payload for p in spurt)).tolist()
        == ulaw_decode(ulaw_encode(tone)).tolist()
    )
    # Pacing follows the monotonic clock: packets sent ~ elapsed / 20 ms.
    elapsed = sink.packets[-1][0] - sink.packets[0][0]
    assert abs(len(pkts) - 1 - elapsed / 0.02) <= 3


async def test_pacing_does_not_drift_after_a_blocked_loop() -> None:
    session, _sink, transport = await _session_to_sink()
    await asyncio.sleep(0.1)
    t0 = time.monotonic()
    time.sleep(0.2)  # the loop is blocked: the sender must catch up, not shift
    await asyncio.sleep(0.5)
    n_sent = session.stats.sent_packets
    first = session.stats
    await session.stop()
    transport.close()
    expected = (time.monotonic() - t0 + 0.1) / 0.02
    assert abs(n_sent - expected) <= 4
    assert first.late_ticks >= 1


async def test_rfc4733_dtmf_packets() -> None:
    session, sink, transport = await _session_to_sink()
    await asyncio.sleep(0.05)
    await session.dtmf("5#", duration_ms=100, gap_ms=40)
    await asyncio.sleep(0.05)
    await session.stop()
    transport.close()
    events = [p for _, p in sink.packets if p.payload_type == 101]
    by_ts: dict[int, list[RtpPacket]] = {}
    for p in events:
        by_ts.setdefault(p.timestamp, []).append(p)
    assert len(by_ts) == 2
    for digit_code, pkts in zip((5, 11), by_ts.values(), strict=True):
        assert pkts[0].marker and not any(p.marker for p in pkts[1:])
        fields = [struct.unpack("!BBH", p.payload[:4]) for p in pkts]
        assert all(f[0] == digit_code for f in fields)
        durations = [f[2] for f in fields]
        assert durations[:5] == [160, 320, 480, 640, 800]
        ends = [f for f in fields if f[1] & 0x80]
        assert len(ends) == 3 and all(f[2] == 800 for f in ends)


async def test_dtmf_needs_telephone_event() -> None:
    session = RtpSession()
    await session.bind("127.0.0.1")
    session.start(("127.0.0.1", 9), audio_pt=0, dtmf_pt=None)
    with pytest.raises(RuntimeError, match="telephone-event"):
        await session.dtmf("1")
    await session.stop()


async def test_speech_tracker_detects_end_of_agent_turn() -> None:
    tracker = SpeechTracker(time.monotonic, threshold_dbfs=-45.0, poll_s=0.005)
    since = time.monotonic()
    loud = (np.sin(np.arange(160) * 0.5) * 8000).astype(np.int16)
    quiet = np.zeros(160, dtype=np.int16)

    async def agent() -> None:
        for i in range(10):
            tracker.feed(ReceivedFrame(time.monotonic(), loud if i < 6 else quiet, i, 1))
            await asyncio.sleep(0.02)

    task = asyncio.create_task(agent())
    t0 = time.monotonic()
    assert await tracker.wait_end_of_speech(since, silence_s=0.15, max_wait_s=2.0)
    waited = time.monotonic() - t0
    await task
    assert waited >= 0.12 + 0.15 - 0.03  # six voiced frames, then the silence
    assert len(tracker.voiced) == 6
    assert not await tracker.wait_end_of_speech(time.monotonic(), 0.1, max_wait_s=0.1)
    segs = merge_segments([(0.0, 0.02), (0.02, 0.04), (0.5, 0.52)], 0.3)
    assert [(s.start, s.end) for s in segs] == [(0.0, 0.04), (0.5, 0.52)]


def test_voiced_duration(tmp_path: Path) -> None:
    x = np.zeros(8000, dtype=np.int16)
    x[:4000] = (np.sin(np.arange(4000) * 0.2) * 5000).astype(np.int16)
    assert abs(voiced_duration(x) - 0.5) < 0.021
    write_wav(tmp_path / "a.wav", x)
    assert read_wav(tmp_path / "a.wav").rate == 8000
