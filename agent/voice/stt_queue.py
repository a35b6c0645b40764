"""One queue of transcriptions per STT provider, shared by every call of the process.

Whisper runs on a small thread pool (``[stt] workers``, 1 by default) and a job that
has reached a worker thread cannot be stopped. The pipeline also makes bets: a
*speculative* transcription of the caller's words so far, started before the endpoint
is final. When the caller goes on speaking that bet is abandoned, and if it was handed
to the executor it still runs before any job queued behind it, however urgent.

So every transcription of the voice pipeline passes through a
:class:`TranscriptionQueue`:

* at most ``workers`` jobs are handed to the provider at a time, so nothing waits
  inside the executor, where it could neither be withdrawn nor overtaken;
* a waiting *final* transcription (the turn has ended: the caller waits for it) goes
  before every waiting speculative one; a speculative job whose turn has ended can be
  promoted to final;
* a speculative job cancelled while it waits is dropped: it never reaches the provider;
* a job already running keeps its slot until the provider has really finished, because
  its worker thread is busy until then even if nobody wants the result;
* a job handed over while others still wait is marked ``busy``: Whisper then skips
  its carrier phrase (~85 ms of decoding per short answer, agent/stt/carrier.py), so
  with many simultaneous calls the queue drains faster instead of growing.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any

from agent.stt.base import STTProvider, Transcript

log = logging.getLogger(__name__)

FINAL = 0
SPECULATIVE = 1


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    future: asyncio.Future[None] = field(compare=False)
    task: asyncio.Task[Any] | None = field(compare=False)


class TranscriptionQueue:
    """Hands transcriptions to ``stt`` in priority order, ``workers`` at a time."""

    def __init__(self, stt: STTProvider, workers: int | None = None) -> None:
        self.stt = stt
        if workers is None:
            # WhisperSTT runs settings.workers threads; other providers: one at a time.
            workers = int(getattr(getattr(stt, "settings", None), "workers", 1) or 1)
        self.workers = max(1, workers)
        self._running = 0
        self._waiting: list[_Waiter] = []
        self._seq = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._generation = 0
        # Counters for tests and benchmarks.
        self.started = {"final": 0, "speculative": 0}
        self.dropped = 0  # speculative jobs withdrawn before they reached the provider
        self.started_busy = 0  # jobs handed over while others were waiting

    @property
    def busy(self) -> bool:
        return self._running >= self.workers

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def transcribe(
        self, pcm: bytes, prompt: str = "", *, speculative: bool = False
    ) -> Transcript:
        """Transcribe through the queue. Cancelling a job that still waits withdraws it."""
        loop = self._bind(asyncio.get_running_loop())
        if self._running >= self.workers or self._waiting:
            waiter = _Waiter(
                SPECULATIVE if speculative else FINAL,
                next(self._seq),
                loop.create_future(),
                asyncio.current_task(),
            )
            heapq.heappush(self._waiting, waiter)
            try:
                await waiter.future
            except asyncio.CancelledError:
                if waiter.future.done() and not waiter.future.cancelled():
                    self._release()  # a slot was handed over just as we were cancelled
                else:
                    self._remove(waiter)
                    self.dropped += waiter.priority == SPECULATIVE
                raise
            speculative = waiter.priority == SPECULATIVE  # it may have been promoted
        else:
            self._running += 1
        self.started["speculative" if speculative else "final"] += 1
        # Cancelled waiters not yet removed wait for nothing.
        busy = any(not w.future.done() for w in self._waiting)
        self.started_busy += busy
        job = loop.create_task(self.stt.transcribe(pcm, prompt, busy=busy))
        job.add_done_callback(functools.partial(self._job_done, self._generation))
        # Shielded: cancelling the caller's wait must not release the slot while the
        # provider's thread is still busy with this job.
        return await asyncio.shield(job)

    def promote(self, task: asyncio.Task[Any]) -> bool:
        """A speculative job of ``task`` still waiting becomes final (the turn ended)."""
        for waiter in self._waiting:
            if waiter.task is task and waiter.priority == SPECULATIVE:
                # Final from now on: behind the final jobs already waiting, whose
                # callers were waiting before this turn ended.
                waiter.priority, waiter.seq = FINAL, next(self._seq)
                heapq.heapify(self._waiting)
                return True
        return False

    # -- internals -------------------------------------------------------------------
    def _bind(self, loop: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
        # Jobs and waiters belong to one event loop; a new loop (a restarted controller,
        # a test) starts from an empty queue instead of slots held by a dead loop.
        if self._loop is not loop:
            self._loop = loop
            self._generation += 1
            self._running = 0
            self._waiting = []
        return loop

    def _job_done(self, generation: int, job: asyncio.Task[Transcript]) -> None:
        if not job.cancelled() and job.exception() is not None:
            # Whoever awaited it got the error; an abandoned job's error is only logged.
            log.debug("transcription failed: %r", job.exception())
        if generation == self._generation:
            self._release()

    def _release(self) -> None:
        self._running = max(0, self._running - 1)
        while self._waiting and self._running < self.workers:
            waiter = heapq.heappop(self._waiting)
            if waiter.future.done():
                continue  # cancelled, not yet removed
            self._running += 1
            waiter.future.set_result(None)

    def _remove(self, waiter: _Waiter) -> None:
        self._waiting = [w for w in self._waiting if w is not waiter]
        heapq.heapify(self._waiting)


_queues: weakref.WeakKeyDictionary[Any, TranscriptionQueue] = weakref.WeakKeyDictionary()


def transcription_queue(stt: STTProvider) -> TranscriptionQueue:
    """The process-wide queue of ``stt`` (one per provider object, shared by all calls)."""
    try:
        queue = _queues.get(stt)
    except TypeError:  # not weak-referenceable: a queue of its own
        return TranscriptionQueue(stt)
    if queue is None:
        queue = _queues[stt] = TranscriptionQueue(stt)
    return queue
