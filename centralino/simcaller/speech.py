"""Energy-based detection of the agent's speech in the audio the caller hears.

A received frame is *voiced* when its RMS is above a threshold (default
-45 dBFS: Asterisk sends digital silence between prompts, and telephone speech
sits around -25..-10 dBFS). The agent has finished a turn when it has spoken
and then ``silence_s`` passed without a voiced frame, measured on the clock
rather than on packets, because a far end may stop sending RTP altogether.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from centralino.simcaller.audio import RATE, threshold_from_dbfs
from centralino.simcaller.rtp import ReceivedFrame


@dataclass(frozen=True)
class Segment:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def merge_segments(voiced: list[tuple[float, float]], merge_gap_s: float) -> list[Segment]:
    """Merge voiced (start, end) frame intervals closer than ``merge_gap_s``."""
    out: list[Segment] = []
    for start, end in voiced:
        if out and start - out[-1].end <= merge_gap_s:
            out[-1] = Segment(out[-1].start, max(out[-1].end, end))
        else:
            out.append(Segment(start, end))
    return out


class SpeechTracker:
    def __init__(
        self,
        clock: Callable[[], float],
        threshold_dbfs: float = -45.0,
        poll_s: float = 0.02,
    ) -> None:
        self.clock = clock
        self.threshold = threshold_from_dbfs(threshold_dbfs)
        self.poll_s = poll_s
        # Voiced frames as (start, end) on the monotonic clock, in arrival order.
        self.voiced: list[tuple[float, float]] = []
        self._starts: list[float] = []

    def feed(self, frame: ReceivedFrame) -> None:
        if len(frame.pcm) == 0:
            return
        x = frame.pcm.astype(np.float64)
        if float(np.sqrt(np.mean(x * x))) >= self.threshold:
            start = frame.at - len(frame.pcm) / RATE
            self.voiced.append((start, frame.at))
            self._starts.append(start)

    def first_voiced_after(self, t: float) -> float | None:
        i = bisect.bisect_left(self._starts, t)
        return self._starts[i] if i < len(self._starts) else None

    @property
    def last_voiced_end(self) -> float | None:
        return self.voiced[-1][1] if self.voiced else None

    def voiced_between(self, t0: float, t1: float) -> float:
        return sum(max(0.0, min(e, t1) - max(s, t0)) for s, e in self.voiced if e > t0 and s < t1)

    async def wait_end_of_speech(self, since: float, silence_s: float, max_wait_s: float) -> bool:
        """Wait until the agent spoke after ``since`` and then fell silent.

        Returns False when ``max_wait_s`` passed first (no speech, or never ending).
        """
        deadline = self.clock() + max_wait_s
        while True:
            now = self.clock()
            onset = self.first_voiced_after(since)
            last = self.last_voiced_end
            if onset is not None and last is not None and now - last >= silence_s:
                return True
            if now >= deadline:
                return False
            await asyncio.sleep(self.poll_s)

    async def wait_speaking_for(self, since: float, speech_s: float, max_wait_s: float) -> bool:
        """Wait until the agent has been speaking ``speech_s`` (barge-in point)."""
        deadline = self.clock() + max_wait_s
        while True:
            now = self.clock()
            onset = self.first_voiced_after(since)
            if onset is not None and now - onset >= speech_s:
                return True
            if now >= deadline:
                return False
            await asyncio.sleep(self.poll_s)
