"""G.711 µ-law / A-law codecs on numpy arrays, the one implementation in the tree.

``audioop`` is gone in Python 3.13, so the companding is done with lookup tables
built once at import: encoding or decoding a 20 ms frame is a single fancy-index
operation. The encoder is the classic sign-magnitude one (BIAS 0x84, CLIP 32635,
as in Asterisk's and spandsp's ``linear2ulaw``); the decoders give the G.711
reconstruction levels scaled to 16 bits.

The simulated caller works on int16 arrays directly; ``agent.audio`` wraps these
functions for s16le bytes.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]

_BIAS = 0x84
_CLIP = 32635

ULAW_SILENCE = 0xFF  # µ-law code of linear 0


def _build_ulaw_decode() -> Int16Array:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    """The µ-law code of every int16 value, indexed by ``value + 32768``."""
    x = np.arange(-32768, 32768, dtype=np.int32)
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.abs(x), _CLIP) + _BIAS
    # Exponent = index of the highest set bit above bit 7 (0..7).
    exponent = np.clip(np.floor(np.log2(mag)).astype(np.int32) - 7, 0, 7)
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


def _build_alaw_decode() -> Int16Array:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    sign = a & 0x80
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    magnitude = np.where(
        exponent == 0,
        (mantissa << 4) + 8,
        ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0),
    )
    return np.where(sign != 0, magnitude, -magnitude).astype(np.int16)


_ULAW_DECODE = _build_ulaw_decode()
_ULAW_ENCODE = _build_ulaw_encode()
_ALAW_DECODE = _build_alaw_decode()


def ulaw_encode(pcm: npt.ArrayLike) -> bytes:
    """Encode signed 16-bit linear samples to µ-law bytes (one byte per sample).

    Samples beyond the int16 range (a mix or a gain stage that overshoots, int32 or
    float arrays) are clipped to it, as a DAC would: casting would wrap 40000 into a
    loud negative sample. Floats are truncated toward zero, like the int16 cast.
    """
    x = np.asarray(pcm)
    if x.dtype == np.int16:  # the media path: already in range, nothing to check
        samples = x.astype(np.int32)
    elif x.dtype.kind in "iub":
        samples = np.clip(x, -32768, 32767).astype(np.int32)
    elif x.dtype.kind == "f":
        if not np.all(np.isfinite(x)):
            raise ValueError("ulaw_encode: samples must be finite numbers (got NaN or inf)")
        samples = np.clip(x, -32768, 32767).astype(np.int32)
    else:
        raise TypeError(f"ulaw_encode: samples must be numbers, got dtype {x.dtype}")
    return bytes(_ULAW_ENCODE[samples + 32768].tobytes())


def ulaw_decode(data: bytes) -> Int16Array:
    """Decode µ-law bytes to signed 16-bit linear samples."""
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def alaw_decode(data: bytes) -> Int16Array:
    """Decode A-law bytes (a far end may answer PCMA even when offered PCMU)."""
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]
