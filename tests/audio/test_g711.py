"""The shared G.711 codec (centralino.audio.g711) against reference values.

The decoder tables are the G.711 reconstruction levels in 16-bit units, the same
256-entry tables as Sun's g711.c (CPython's ``audioop.ulaw2lin``/``alaw2lin`` on
Python 3.11 return exactly these). The encoder is the classic sign-magnitude
``linear2ulaw`` (BIAS 0x84, CLIP 32635) that Asterisk and spandsp use; for
non-negative samples it agrees with ``audioop.lin2ulaw`` everywhere (audioop
floors negatives to 14 bits first, so one code step differs at a few hundred
negative decision edges: a sign-magnitude encoder is symmetric instead).
"""

from __future__ import annotations

import numpy as np
import pytest

from centralino.audio.g711 import ULAW_SILENCE, alaw_decode, ulaw_decode, ulaw_encode

# Codes 0x00..0x7F (negative half); code c | 0x80 decodes to the opposite value.
ULAW_NEGATIVE_HALF = [
    -32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956,
    -23932, -22908, -21884, -20860, -19836, -18812, -17788, -16764,
    -15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412,
    -11900, -11388, -10876, -10364, -9852, -9340, -8828, -8316,
    -7932, -7676, -7420, -7164, -6908, -6652, -6396, -6140,
    -5884, -5628, -5372, -5116, -4860, -4604, -4348, -4092,
    -3900, -3772, -3644, -3516, -3388, -3260, -3132, -3004,
    -2876, -2748, -2620, -2492, -2364, -2236, -2108, -1980,
    -1884, -1820, -1756, -1692, -1628, -1564, -1500, -1436,
    -1372, -1308, -1244, -1180, -1116, -1052, -988, -924,
    -876, -844, -812, -780, -748, -716, -684, -652,
    -620, -588, -556, -524, -492, -460, -428, -396,
    -372, -356, -340, -324, -308, -292, -276, -260,
    -244, -228, -212, -196, -180, -164, -148, -132,
    -120, -112, -104, -96, -88, -80, -72, -64,
    -56, -48, -40, -32, -24, -16, -8, 0,
]  # fmt: skip
# A-law codes carry the even-bit inversion (XOR 0x55), hence the shuffled order.
ALAW_NEGATIVE_HALF = [
    -5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736,
    -7552, -7296, -8064, -7808, -6528, -6272, -7040, -6784,
    -2752, -2624, -3008, -2880, -2240, -2112, -2496, -2368,
    -3776, -3648, -4032, -3904, -3264, -3136, -3520, -3392,
    -22016, -20992, -24064, -23040, -17920, -16896, -19968, -18944,
    -30208, -29184, -32256, -31232, -26112, -25088, -28160, -27136,
    -11008, -10496, -12032, -11520, -8960, -8448, -9984, -9472,
    -15104, -14592, -16128, -15616, -13056, -12544, -14080, -13568,
    -344, -328, -376, -360, -280, -264, -312, -296,
    -472, -456, -504, -488, -408, -392, -440, -424,
    -88, -72, -120, -104, -24, -8, -56, -40,
    -216, -200, -248, -232, -152, -136, -184, -168,
    -1376, -1312, -1504, -1440, -1120, -1056, -1248, -1184,
    -1888, -1824, -2016, -1952, -1632, -1568, -1760, -1696,
    -688, -656, -752, -720, -560, -528, -624, -592,
    -944, -912, -1008, -976, -816, -784, -880, -848,
]  # fmt: skip
# Sample -> µ-law code at the segment edges (decision values x4: 124, 380, 892, ...)
# and at the clip level, from the reference encoder.
ULAW_ENCODE_POINTS = {
    0: 0xFF, 3: 0xFF, 4: 0xFE, 8: 0xFE, 15: 0xFD, 123: 0xF0, 124: 0xEF, 379: 0xE0,
    380: 0xDF, 891: 0xD0, 892: 0xCF, 1915: 0xC0, 1916: 0xBF, 3963: 0xB0, 3964: 0xAF,
    8059: 0xA0, 8060: 0x9F, 16251: 0x90, 16252: 0x8F, 32123: 0x80, 32635: 0x80, 32767: 0x80,
}  # fmt: skip


def test_decoders_match_the_reference_tables() -> None:
    codes = bytes(range(256))
    ulaw_ref = ULAW_NEGATIVE_HALF + [-v for v in ULAW_NEGATIVE_HALF]
    alaw_ref = ALAW_NEGATIVE_HALF + [-v for v in ALAW_NEGATIVE_HALF]
    assert ulaw_decode(codes).dtype == np.int16
    assert ulaw_decode(codes).tolist() == ulaw_ref
    assert alaw_decode(codes).tolist() == alaw_ref
    assert alaw_decode(bytes([0xD5, 0x55, 0xAA, 0x2A])).tolist() == [8, -8, 32256, -32256]


def test_ulaw_encoder_matches_the_reference_points_and_is_sign_symmetric() -> None:
    xs = np.array(list(ULAW_ENCODE_POINTS), dtype=np.int16)
    assert list(ulaw_encode(xs)) == list(ULAW_ENCODE_POINTS.values())
    # Sign-magnitude: -x is the code of x with the sign bit flipped (-32768 clips like 32767).
    x = np.arange(1, 32768, dtype=np.int16)
    positive = np.frombuffer(ulaw_encode(x), dtype=np.uint8)
    assert np.array_equal(np.frombuffer(ulaw_encode(-x), dtype=np.uint8), positive ^ 0x80)
    assert ulaw_encode(np.array([-32768], dtype=np.int16)) == b"\x00"
    assert ulaw_encode(np.zeros(3, np.int16)) == bytes([ULAW_SILENCE]) * 3
    assert ulaw_encode(np.zeros(0, np.int16)) == b"" and len(ulaw_decode(b"")) == 0


def test_ulaw_roundtrip_error_is_within_the_quantisation_step() -> None:
    x = np.arange(-32768, 32768, dtype=np.int16)
    y = ulaw_decode(ulaw_encode(x)).astype(np.int32)
    ax = np.abs(x.astype(np.int32))
    err = np.abs(y - x.astype(np.int32))
    big = ax > 64
    # µ-law has 4 mantissa bits: the error stays below 1/16 of the magnitude,
    # except above the clip level 32635.
    clipped = ax > 32635
    assert np.all(err[big & ~clipped] <= np.maximum(8, ax[big & ~clipped] / 16))
    assert np.all(err[clipped] <= 700)
    assert np.all(err[~big] <= 8)
    # Every code decodes to a value that encodes back to the same code (but -0).
    codes = np.arange(256, dtype=np.uint8)
    back = np.frombuffer(ulaw_encode(ulaw_decode(codes.tobytes())), dtype=np.uint8)
    assert np.all((back == codes) | (codes == 0x7F))


def test_ulaw_encoder_clips_samples_beyond_int16_at_both_ends() -> None:
    # A wider array must clip like a DAC, not wrap: 40000 is full positive scale (the
    # code of 32767), not the negative sample 40000 - 65536.
    top, bottom = ulaw_encode(np.array([32767, -32768], dtype=np.int16))
    wide = np.array([40000, 32768, (1 << 31) - 1, -40000, -32769, -(1 << 31)], dtype=np.int64)
    assert list(ulaw_encode(wide)) == [top] * 3 + [bottom] * 3
    assert list(ulaw_encode(np.array([40000, -40000], dtype=np.int32))) == [top, bottom]
    assert list(ulaw_encode(np.array([65535], dtype=np.uint16))) == [top]
    # Python ints and floats (ArrayLike) too; floats truncate toward zero like the cast.
    assert list(ulaw_encode([40000, -40000, 0])) == [top, bottom, ULAW_SILENCE]
    assert list(ulaw_encode([1e9, -1e9])) == [top, bottom]
    assert ulaw_encode([123.9, -123.9]) == ulaw_encode(np.array([123, -123], dtype=np.int16))
    # In-range samples of any dtype encode exactly as int16 ones.
    x = np.arange(-32768, 32768, 7)
    assert ulaw_encode(x) == ulaw_encode(x.astype(np.int16))


def test_ulaw_encoder_refuses_samples_that_are_not_numbers() -> None:
    with pytest.raises(ValueError, match="finite"):
        ulaw_encode(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="finite"):
        ulaw_encode([np.inf])
    with pytest.raises(TypeError, match="numbers"):
        ulaw_encode(["loud"])
