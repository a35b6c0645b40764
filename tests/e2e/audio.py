"""Caller audio for the end-to-end tests: offline Italian speech trimmed to the voice.

Text utterances are rendered with pico2wave (the simulated caller's own offline voice,
``centralino.simcaller.tts``) and written as 8 kHz WAVs with the leading and trailing
silence cut off. The simulated caller's timings then refer to the speech itself: the
end of a sent utterance *is* the end of the caller's speech (the RTP stream goes on
with silence afterwards, as a phone without VAD does).
"""

from __future__ import annotations

import hashlib
import wave
from pathlib import Path

import numpy as np

from centralino.simcaller.tts import synthesize

RATE = 8000
# 10 ms windows quieter than this are silence. Not higher: the soft onset of "Sì"
# (an s fricative) sits near -50 dBFS, and clipping it made Whisper hear "T".
SILENCE_DBFS = -60.0


def trim_silence(pcm: np.ndarray, threshold_dbfs: float = SILENCE_DBFS) -> np.ndarray:
    """``pcm`` without the silence before the first and after the last voiced 10 ms."""
    win = RATE // 100
    n = len(pcm) // win
    if n == 0:
        return pcm
    blocks = pcm[: n * win].astype(np.float64).reshape(n, win)
    level = np.sqrt(np.mean(blocks * blocks, axis=1))
    voiced = np.nonzero(level >= 32768.0 * 10 ** (threshold_dbfs / 20))[0]
    if len(voiced) == 0:
        return pcm[:0]
    return pcm[voiced[0] * win : (voiced[-1] + 1) * win]


def write_wav(path: Path, pcm: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.astype(np.int16).tobytes())
    return path


def speech_wav(folder: Path, text: str, cut_at: float | None = None) -> Path:
    """``text`` spoken by pico2wave, trimmed; ``cut_at`` keeps only that fraction of it
    (a caller who hangs up mid-sentence). Cached in ``folder`` by text."""
    key = hashlib.sha1(f"{text}|{cut_at}".encode()).hexdigest()[:12]
    path = folder / f"say-{key}.wav"
    if not path.exists():
        pcm = trim_silence(synthesize(text, "it"))
        if not len(pcm):
            raise RuntimeError(f"the offline voice produced silence for {text!r}")
        if cut_at is not None:
            pcm = pcm[: int(len(pcm) * cut_at)]
        write_wav(path, pcm)
    return path


def noise_wav(path: Path, seconds: float, dbfs: float = -20.0, seed: int = 7) -> Path:
    """White noise at ``dbfs`` RMS (a bad line, wind, a busy street)."""
    rng = np.random.default_rng(seed)
    amp = 32768.0 * 10 ** (dbfs / 20)
    pcm = np.clip(rng.normal(0.0, amp, int(seconds * RATE)), -32768, 32767)
    return write_wav(path, pcm)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()
