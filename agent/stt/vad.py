"""Endpointing on the call's 20 ms frames with WebRTC's VAD (webrtcvad-wheels).

The :class:`Endpointer` is fed every slin16 frame from the caller and says when an
utterance starts (for barge-in) and when it has ended (to run STT). It keeps a
pre-roll of audio from before the start trigger so first syllables are not clipped.
Pure and synchronous: a frame costs microseconds, safe on the event loop.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import webrtcvad

from agent.audio import rms_dbfs

FRAME_MS = 20
FRAME_BYTES = 640  # 20 ms of slin16


@dataclass(frozen=True)
class VADSettings:
    aggressiveness: int = 2  # 0 (permissive) .. 3 (strict), WebRTC's mode
    preroll_ms: int = 300
    # Speech starts when this much of the last start_window_ms is voiced.
    start_voiced_ms: int = 120
    start_window_ms: int = 200
    end_silence_ms: int = 550  # trailing silence that ends an utterance
    min_speech_ms: int = 200  # shorter voiced bursts are noise (a cough, a click)
    max_utterance_ms: int = 20000  # cut a monologue so STT stays bounded
    # Frames quieter than this never count as speech (line hiss fools WebRTC's VAD).
    energy_floor_dbfs: float = -55.0

    def __post_init__(self) -> None:
        # Checked here so a bad ``[vad]`` value stops the controller at start-up with the
        # key named (config.section reports it as "[vad]: ..."), not at the first call.
        if not 0 <= self.aggressiveness <= 3:
            raise ValueError(f"aggressiveness must be 0..3, got {self.aggressiveness}")
        for name in ("preroll_ms", "start_voiced_ms", "start_window_ms", "end_silence_ms"):
            _check_frames(name, getattr(self, name), minimum=0 if name == "preroll_ms" else 1)
        _check_frames("min_speech_ms", self.min_speech_ms, minimum=0)
        _check_frames("max_utterance_ms", self.max_utterance_ms, minimum=1)
        if self.start_voiced_ms > self.start_window_ms:
            raise ValueError(
                f"start_voiced_ms ({self.start_voiced_ms}) cannot exceed"
                f" start_window_ms ({self.start_window_ms}): speech would never start"
            )
        if self.max_utterance_ms <= self.end_silence_ms:
            raise ValueError(
                f"max_utterance_ms ({self.max_utterance_ms}) must be longer than"
                f" end_silence_ms ({self.end_silence_ms})"
            )
        if not -120.0 <= self.energy_floor_dbfs <= 0.0:
            raise ValueError(
                f"energy_floor_dbfs must be between -120 and 0 dBFS, got {self.energy_floor_dbfs}"
            )


def _check_frames(name: str, value: int, minimum: int) -> None:
    """Durations are counted in 20 ms frames; a negative one is a typo, not a setting."""
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum} ms, got {value}")


@dataclass(frozen=True)
class Segment:
    pcm: bytes  # pre-roll + speech + trailing silence, slin16
    start_ms: int  # stream time of the first frame in pcm
    end_ms: int  # stream time at which the end was detected
    speech_ms: int  # voiced frames inside the utterance
    reason: str  # "silence" | "max_length" | "flush"

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 32000


class Endpointer:
    def __init__(self, settings: VADSettings | None = None) -> None:
        self.settings = s = settings or VADSettings()  # validated by VADSettings itself
        self._vad = webrtcvad.Vad(s.aggressiveness)
        self._preroll: collections.deque[bytes] = collections.deque(
            maxlen=max(1, s.preroll_ms // FRAME_MS)
        )
        self._window: collections.deque[bool] = collections.deque(
            maxlen=max(1, s.start_window_ms // FRAME_MS)
        )
        self._frames: list[bytes] = []
        self._t_ms = 0  # stream time of the next frame
        self.in_speech = False
        self._start_ms = 0
        self._speech_frames = 0
        self._silence_run = 0
        self.voiced_run_ms = 0  # recent voiced time, tolerant of short gaps (barge-in)

    @property
    def now_ms(self) -> int:
        return self._t_ms

    @property
    def speech_ms(self) -> int:
        """Voiced time in the current utterance (0 when not in speech)."""
        return self._speech_frames * FRAME_MS if self.in_speech else 0

    @property
    def utterance_ms(self) -> int:
        """Length of the utterance so far, pre-roll included (0 when not in speech)."""
        return len(self._frames) * FRAME_MS if self.in_speech else 0

    @property
    def silence_ms(self) -> int:
        """Trailing silence inside the current utterance (0 when not in speech)."""
        return self._silence_run * FRAME_MS if self.in_speech else 0

    def current_pcm(self) -> bytes:
        """The utterance so far (pre-roll included); empty when not in speech."""
        return b"".join(self._frames) if self.in_speech else b""

    def is_voiced(self, frame: bytes) -> bool:
        if rms_dbfs(frame) < self.settings.energy_floor_dbfs:
            return False
        return bool(self._vad.is_speech(frame, 16000))

    def push(self, frame: bytes) -> Segment | None:
        """Feed one 20 ms frame; returns a finished utterance, else None."""
        if len(frame) != FRAME_BYTES:
            if len(frame) > FRAME_BYTES or len(frame) % 2:
                raise ValueError(f"expected {FRAME_BYTES}-byte slin16 frames, got {len(frame)}")
            frame = frame + b"\x00" * (FRAME_BYTES - len(frame))
        s = self.settings
        voiced = self.is_voiced(frame)
        self._t_ms += FRAME_MS
        self.voiced_run_ms = (
            self.voiced_run_ms + FRAME_MS if voiced else max(0, self.voiced_run_ms - FRAME_MS)
        )
        if not self.in_speech:
            self._preroll.append(frame)
            self._window.append(voiced)
            if sum(self._window) * FRAME_MS >= s.start_voiced_ms:
                self.in_speech = True
                self._frames = list(self._preroll)
                self._start_ms = self._t_ms - len(self._frames) * FRAME_MS
                self._speech_frames = sum(self._window)
                self._silence_run = 0
                self._preroll.clear()
                self._window.clear()
            return None
        self._frames.append(frame)
        if voiced:
            self._speech_frames += 1
            self._silence_run = 0
        else:
            self._silence_run += 1
        if self._silence_run * FRAME_MS >= s.end_silence_ms:
            return self._finish("silence")
        if len(self._frames) * FRAME_MS >= s.max_utterance_ms:
            return self._finish("max_length")
        return None

    def flush(self) -> Segment | None:
        """End of stream: return the utterance in progress, if it has enough speech."""
        return self._finish("flush") if self.in_speech else None

    def reset(self) -> None:
        self.in_speech = False
        self._frames = []
        self._preroll.clear()
        self._window.clear()
        self._speech_frames = 0
        self._silence_run = 0
        self.voiced_run_ms = 0

    def _finish(self, reason: str) -> Segment | None:
        seg = Segment(
            pcm=b"".join(self._frames),
            start_ms=self._start_ms,
            end_ms=self._t_ms,
            speech_ms=self._speech_frames * FRAME_MS,
            reason=reason,
        )
        self.in_speech = False
        self._frames = []
        self._speech_frames = 0
        self._silence_run = 0
        self._window.clear()
        if seg.speech_ms < self.settings.min_speech_ms:
            return None
        return seg
