"""PCM conversions: s16 <-> float, resampling, G.711 µ-law, WAV files, levels."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

from centralino.audio import g711

SAMPLE_RATE = 16000
FloatArray = npt.NDArray[np.float32]


class WavError(ValueError):
    """A WAV file that cannot be read as PCM (names the file and the reason)."""


def s16_to_float(pcm: bytes) -> FloatArray:
    """s16le bytes -> float32 samples in [-1, 1)."""
    if len(pcm) % 2:
        raise ValueError(f"s16 PCM must have an even number of bytes, got {len(pcm)}")
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def float_to_s16(samples: npt.ArrayLike) -> bytes:
    """float samples in [-1, 1] -> s16le bytes (clipped, rounded)."""
    arr = np.asarray(samples, dtype=np.float32)
    return np.clip(np.rint(arr * 32768.0), -32768, 32767).astype("<i2").tobytes()


def resample(pcm: bytes, from_rate: int, to_rate: int = SAMPLE_RATE) -> bytes:
    """Resample mono s16le PCM with soxr (high quality, stateless: whole buffers)."""
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    if from_rate == to_rate or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2")
    out = soxr.resample(samples, from_rate, to_rate, quality="HQ")
    return np.asarray(out, dtype="<i2").tobytes()


# G.711 µ-law: the shared codec (centralino.audio.g711, int16 arrays) on s16le bytes.
def ulaw_encode(pcm: bytes) -> bytes:
    """s16le -> G.711 µ-law bytes (one byte per sample)."""
    return g711.ulaw_encode(np.frombuffer(pcm, dtype="<i2"))


def ulaw_decode(data: bytes) -> bytes:
    """G.711 µ-law bytes -> s16le."""
    return g711.ulaw_decode(data).astype("<i2").tobytes()


def read_wav(path: str | Path | bytes, rate: int | None = SAMPLE_RATE) -> tuple[bytes, int]:
    """Read a PCM WAV (8/16/32-bit, any channels) -> (mono s16le, sample rate).

    With ``rate`` set (default 16 kHz) the audio is resampled to it; ``rate=None``
    keeps the file's own rate. ``path`` may also be the WAV file's bytes.
    """
    name = "<bytes>" if isinstance(path, bytes) else str(path)
    try:
        src = io.BytesIO(path) if isinstance(path, bytes) else open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise WavError(f"cannot open WAV file {name}: {exc}") from exc
    try:
        with src, wave.open(src, "rb") as w:
            channels, width, src_rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise WavError(f"{name} is not a PCM WAV file: {exc}") from exc
    if width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2")
    elif width == 4:
        samples = (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    else:
        raise WavError(f"{name}: unsupported sample width {width * 8} bit")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    pcm = samples.astype("<i2").tobytes()
    if rate is not None and rate != src_rate:
        return resample(pcm, src_rate, rate), rate
    return pcm, src_rate


def wav_bytes(pcm: bytes, rate: int = SAMPLE_RATE) -> bytes:
    """Mono s16le PCM -> the bytes of a WAV file."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


def write_wav(path: str | Path, pcm: bytes, rate: int = SAMPLE_RATE) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(wav_bytes(pcm, rate))
    return target


def rms_dbfs(pcm: bytes) -> float:
    """RMS level in dBFS (-inf-safe: silence returns -120)."""
    if len(pcm) < 2:
        return -120.0
    x = s16_to_float(pcm[: len(pcm) - len(pcm) % 2])
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return -120.0 if rms <= 1e-6 else max(-120.0, 20.0 * float(np.log10(rms)))


def is_silent(pcm: bytes, threshold_dbfs: float = -50.0) -> bool:
    return rms_dbfs(pcm) < threshold_dbfs


def silence(ms: int, rate: int = SAMPLE_RATE) -> bytes:
    return b"\x00\x00" * (rate * ms // 1000)


def frames(pcm: bytes, frame_bytes: int = 640, pad: bool = True) -> Iterator[bytes]:
    """Split PCM into fixed frames (20 ms of slin16 by default); pads the last one."""
    for i in range(0, len(pcm), frame_bytes):
        chunk = pcm[i : i + frame_bytes]
        if len(chunk) < frame_bytes:
            if not pad:
                return
            chunk = chunk + b"\x00" * (frame_bytes - len(chunk))
        yield chunk
