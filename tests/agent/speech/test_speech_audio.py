"""Audio conversions (numpy + soxr): round trips against real signals and a real prompt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.audio import (
    WavError,
    float_to_s16,
    frames,
    is_silent,
    read_wav,
    resample,
    rms_dbfs,
    s16_to_float,
    silence,
    ulaw_decode,
    ulaw_encode,
    wav_bytes,
    write_wav,
)
from agent.audio.prompts import load_prompts, prompts_dir

SOUNDS = prompts_dir()


def tone(freq: float, seconds: float, rate: int = 16000, amp: float = 0.5) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return float_to_s16(amp * np.sin(2 * np.pi * freq * t))


def test_s16_float_round_trip() -> None:
    pcm = tone(440, 0.1)
    assert float_to_s16(s16_to_float(pcm)) == pcm
    with pytest.raises(ValueError, match="even number"):
        s16_to_float(b"\x00\x01\x02")


def test_resample_keeps_duration_and_pitch() -> None:
    pcm8 = tone(1000, 1.0, rate=8000)
    pcm16 = resample(pcm8, 8000, 16000)
    assert abs(len(pcm16) - 2 * len(pcm8)) <= 4
    spectrum = np.abs(np.fft.rfft(s16_to_float(pcm16)))
    peak_hz = np.argmax(spectrum) * 16000 / (len(pcm16) // 2)
    assert abs(peak_hz - 1000) < 5
    with pytest.raises(ValueError):
        resample(pcm8, 0, 16000)


def test_ulaw_matches_g711_reference_points() -> None:
    # Reference values of G.711 µ-law: 0 -> 0xFF, max positive -> 0x80, max negative -> 0x00.
    pcm = np.array([0, 32767, -32768], dtype="<i2").tobytes()
    assert ulaw_encode(pcm) == bytes([0xFF, 0x80, 0x00])
    # Every code decodes and re-encodes to itself (0x7F and 0xFF are both zero).
    codes = bytes(range(256))
    again = ulaw_encode(ulaw_decode(codes))
    mismatches = [c for c, a in zip(codes, again, strict=True) if c != a]
    assert mismatches == [0x7F]


def test_ulaw_round_trip_error_is_small() -> None:
    pcm = tone(300, 0.5)
    back = s16_to_float(ulaw_decode(ulaw_encode(pcm)))
    ref = s16_to_float(pcm)
    snr = 10 * np.log10(np.sum(ref**2) / np.sum((ref - back) ** 2))
    assert snr > 30  # G.711 gives ~38 dB on a loud tone


def test_wav_write_read(tmp_path: Path) -> None:
    pcm = tone(500, 0.3)
    path = write_wav(tmp_path / "a" / "t.wav", pcm)
    assert read_wav(path) == (pcm, 16000)
    got, rate = read_wav(wav_bytes(pcm, 8000), rate=None)
    assert (got, rate) == (pcm, 8000)


def test_read_wav_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    with pytest.raises(WavError, match=r"bad\.wav"):
        read_wav(bad)
    with pytest.raises(WavError, match=r"missing\.wav"):
        read_wav(tmp_path / "missing.wav")


def test_levels_and_frames() -> None:
    assert rms_dbfs(silence(100)) == -120.0
    assert is_silent(silence(100))
    loud = tone(440, 0.1, amp=0.5)
    assert -10 < rms_dbfs(loud) < -5  # 0.5 amplitude sine = -9 dBFS
    assert not is_silent(loud)
    chunks = list(frames(b"\x01" * 1000))
    assert [len(c) for c in chunks] == [640, 640]
    assert list(frames(b"\x01" * 1000, pad=False)) == [b"\x01" * 640]


@pytest.mark.skipif(not SOUNDS.exists(), reason="Asterisk Italian prompts not installed")
def test_real_prompt_is_read_at_16k() -> None:
    pcm8, rate8 = read_wav(SOUNDS / "vm-intro.wav", rate=None)
    pcm16, rate16 = read_wav(SOUNDS / "vm-intro.wav")
    assert rate8 == 8000 and rate16 == 16000
    assert abs(len(pcm16) - 2 * len(pcm8)) <= 4
    assert not is_silent(pcm16)


@pytest.mark.skipif(not SOUNDS.exists(), reason="Asterisk Italian prompts not installed")
def test_prompt_transcripts_load() -> None:
    prompts = {p.name: p for p in load_prompts()}
    assert len(prompts) > 400
    assert prompts["vm-intro"].path.exists()
    assert "[" not in "".join(p.text for p in prompts.values())
