"""Audio helpers for the voice agent: numpy + soxr only (audioop is gone in Python 3.13).

Inside the product audio is slin16: signed 16-bit little-endian mono PCM at 16 kHz.
"""

from agent.audio.convert import (
    SAMPLE_RATE,
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

__all__ = [
    "SAMPLE_RATE",
    "WavError",
    "float_to_s16",
    "frames",
    "is_silent",
    "read_wav",
    "resample",
    "rms_dbfs",
    "s16_to_float",
    "silence",
    "ulaw_decode",
    "ulaw_encode",
    "wav_bytes",
    "write_wav",
]
