"""WAV input/output, resampling to 8 kHz and energy measurements.

The simulated caller speaks narrow-band G.711, so every utterance is brought to
8 kHz mono int16 once, before the call is placed (a bad file is an input error,
never a failure in the middle of a call).
"""

from __future__ import annotations

import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from centralino.audio.g711 import alaw_decode, ulaw_decode, ulaw_encode

RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_S = FRAME_SAMPLES / RATE


class AudioError(ValueError):
    """A WAV file that cannot be used (missing, not a WAV, unsupported encoding)."""


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # int16 mono
    rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0


def _riff_chunks(data: bytes, path: Path) -> dict[bytes, bytes]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioError(f"{path}: not a RIFF/WAVE file")
    chunks: dict[bytes, bytes] = {}
    pos = 12
    while pos + 8 <= len(data):
        cid, size = struct.unpack_from("<4sI", data, pos)
        body = data[pos + 8 : pos + 8 + size]
        chunks.setdefault(cid, body)
        pos += 8 + size + (size & 1)
    if b"fmt " not in chunks or b"data" not in chunks:
        raise AudioError(f"{path}: WAV file without fmt/data chunk")
    return chunks


def read_wav(path: Path | str) -> Audio:
    """Read a WAV (PCM 8/16/24/32-bit, float32, µ-law or A-law) as mono int16."""
    p = Path(path)
    if not p.is_file():
        raise AudioError(f"{p}: no such WAV file")
    chunks = _riff_chunks(p.read_bytes(), p)
    fmt = chunks[b"fmt "]
    if len(fmt) < 16:
        raise AudioError(f"{p}: truncated fmt chunk")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: real tag in the GUID
        tag = struct.unpack_from("<H", fmt, 24)[0]
    if channels < 1 or rate < 1000:
        raise AudioError(f"{p}: invalid WAV header ({channels} channels, {rate} Hz)")
    raw = chunks[b"data"]
    x: np.ndarray
    if tag == 1 and bits == 16:
        x = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    elif tag == 1 and bits == 8:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif tag == 1 and bits == 24:
        b = np.frombuffer(raw[: len(raw) // 3 * 3], dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v & 0x800000, v - 0x1000000, v)
        x = v.astype(np.float32) / 8388608.0
    elif tag == 1 and bits == 32:
        x = np.frombuffer(raw[: len(raw) // 4 * 4], dtype="<i4").astype(np.float32) / 2147483648.0
    elif tag == 3 and bits == 32:
        x = np.frombuffer(raw[: len(raw) // 4 * 4], dtype="<f4").astype(np.float32)
    elif tag == 7 and bits == 8:
        x = ulaw_decode(raw).astype(np.float32) / 32768.0
    elif tag == 6 and bits == 8:
        x = alaw_decode(raw).astype(np.float32) / 32768.0
    else:
        raise AudioError(f"{p}: unsupported WAV encoding (format tag {tag}, {bits} bits)")
    if channels > 1:
        x = x[: len(x) // channels * channels].reshape(-1, channels).mean(axis=1)
    pcm = np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
    return Audio(pcm, rate)


def to_8k(audio: Audio) -> np.ndarray:
    """Resample to 8 kHz int16 (soxr, high quality)."""
    if audio.rate == RATE:
        return audio.samples
    import soxr

    y = soxr.resample(audio.samples.astype(np.float32) / 32768.0, audio.rate, RATE, "HQ")
    return np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)


def load_8k(path: Path | str) -> np.ndarray:
    return to_8k(read_wav(path))


def write_wav(path: Path | str, samples: np.ndarray, rate: int = RATE) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())


def write_ulaw_wav(path: Path | str, samples: np.ndarray) -> None:
    """A µ-law WAV (format tag 7): SIPp's ``rtp_stream`` sends its data chunk as is."""
    payload = ulaw_encode(samples)
    fmt = struct.pack("<HHIIHHH", 7, 1, RATE, RATE, 1, 8, 0)
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(payload))
        + payload
        + (b"\0" if len(payload) & 1 else b"")
    )
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def rms(samples: np.ndarray) -> float:
    if len(samples) == 0:
        return 0.0
    x = np.asarray(samples, dtype=np.float64)
    return float(np.sqrt(np.mean(x * x)))


def dbfs(value: float) -> float:
    """RMS in dB relative to full scale (-inf clamped to -120)."""
    if value <= 0:
        return -120.0
    return float(max(-120.0, 20.0 * np.log10(value / 32768.0)))


def threshold_from_dbfs(db: float) -> float:
    return float(32768.0 * 10 ** (db / 20.0))


def voiced_duration(samples: np.ndarray, threshold_dbfs: float = -45.0) -> float:
    """Seconds of 20 ms frames whose RMS is above ``threshold_dbfs``."""
    thr = threshold_from_dbfs(threshold_dbfs)
    n = len(samples) // FRAME_SAMPLES
    if n == 0:
        return 0.0
    frames = np.asarray(samples[: n * FRAME_SAMPLES], dtype=np.float64).reshape(n, FRAME_SAMPLES)
    energies = np.sqrt(np.mean(frames * frames, axis=1))
    return float(np.count_nonzero(energies >= thr) * FRAME_S)
