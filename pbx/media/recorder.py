"""Record the caller's audio to a WAV file without blocking the event loop.

Frames are appended in memory and written by a worker thread about once per
second, so a slow disk never delays media handling.
"""

from __future__ import annotations

import asyncio
import logging
import wave
from pathlib import Path

from agent.conversation import SAMPLE_RATE

log = logging.getLogger(__name__)


class WavRecorder:
    def __init__(self, path: Path, flush_bytes: int = SAMPLE_RATE * 2) -> None:
        self.path = path
        self._flush_bytes = flush_bytes
        self._pending = bytearray()
        self._wav: wave.Wave_write | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.bytes_written = 0
        self.failed = False

    async def open(self) -> None:
        def _open() -> wave.Wave_write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            wav = wave.open(str(self.path), "wb")  # noqa: SIM115 - closed in close()
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(SAMPLE_RATE)
            return wav

        self._wav = await asyncio.to_thread(_open)

    def write(self, frame: bytes) -> None:
        """Called for every caller frame (synchronously, from the media reader)."""
        self._pending += frame
        if len(self._pending) >= self._flush_bytes:
            task = asyncio.get_running_loop().create_task(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        async with self._lock:
            if not self._pending or self._wav is None:
                self._pending.clear()
                return
            data = bytes(self._pending)
            self._pending.clear()
            try:
                await asyncio.to_thread(self._wav.writeframes, data)
            except OSError as exc:
                # Disk full or gone: the call goes on without its recording.
                if not self.failed:
                    log.error("recording %s stopped: %s", self.path, exc)
                self.failed = True
                return
            self.bytes_written += len(data)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._flush()
        async with self._lock:
            if self._wav is not None:
                try:
                    await asyncio.to_thread(self._wav.close)
                except OSError as exc:
                    log.error("recording %s not closed cleanly: %s", self.path, exc)
                    self.failed = True
                self._wav = None
