"""The process-wide transcription queue in front of Whisper (agent/voice/stt_queue.py).

Real Whisper underneath (``CountingSTT`` only logs what reaches it and can hold a job
"running" so the order of events is decided by the test, not by Whisper's speed)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent.audio import silence
from agent.conversation import CallContext
from agent.stt.hallucinations import normalize
from agent.voice.factory import make_conversation_factory
from agent.voice.pipeline import VoiceConversation
from agent.voice.stt_queue import TranscriptionQueue, transcription_queue

PROMPT = "Navigli, Isola, trilocale."


@pytest.fixture
async def jobs(fakes: Any, whisper: Any, say_pcm: Any) -> Any:
    """A counting Whisper and four clips told apart by their length: A, B, C, D."""
    stt = fakes.CountingSTT(whisper)
    speech = await say_pcm("Vorrei comprare un trilocale ai Navigli.")
    clips = {}
    for i, label in enumerate("ABCD"):
        clips[label] = speech + silence(100 * (i + 1))
        stt.labels[len(clips[label])] = label
    return stt, clips


async def started(queue: TranscriptionQueue, count: int) -> None:
    """Let freshly created tasks reach the queue (no wall-clock wait)."""
    for _ in range(50):
        if queue.waiting + queue._running >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError("jobs did not reach the queue")


async def test_a_cancelled_waiting_speculative_job_never_reaches_whisper(jobs: Any) -> None:
    stt, clip = jobs
    queue = TranscriptionQueue(stt)
    assert queue.workers == 1  # [stt] workers default
    stt.hold["A"] = asyncio.Event()
    a = asyncio.create_task(queue.transcribe(clip["A"], PROMPT))
    b = asyncio.create_task(queue.transcribe(clip["B"], PROMPT, speculative=True))
    await started(queue, 2)
    assert queue.busy and queue.waiting == 1
    b.cancel()  # the caller went on speaking
    with pytest.raises(asyncio.CancelledError):
        await b
    stt.hold["A"].set()
    transcript = await a
    assert "trilocale" in normalize(transcript.text).split()
    assert stt.log == ["start A", "end A"]  # B was dropped, never run
    assert queue.dropped == 1 and queue.started == {"final": 1, "speculative": 0}
    assert not queue.busy and queue.waiting == 0


async def test_final_transcriptions_go_before_waiting_speculative_ones(jobs: Any) -> None:
    stt, clip = jobs
    queue = TranscriptionQueue(stt)
    stt.hold["A"] = asyncio.Event()
    a = asyncio.create_task(queue.transcribe(clip["A"], PROMPT, speculative=True))
    await started(queue, 1)
    b = asyncio.create_task(queue.transcribe(clip["B"], PROMPT, speculative=True))
    c = asyncio.create_task(queue.transcribe(clip["C"], PROMPT, speculative=True))
    d = asyncio.create_task(queue.transcribe(clip["D"], PROMPT))
    await started(queue, 4)
    # C's turn has ended meanwhile: its speculative job is now needed (promoted).
    assert queue.promote(c) and not queue.promote(a)
    stt.hold["A"].set()
    await asyncio.gather(a, b, c, d)
    assert [e for e in stt.log if e.startswith("start")] == [
        "start A",
        "start D",  # final, queued last, runs first
        "start C",  # promoted: before B, queued earlier
        "start B",
    ]
    assert queue.started == {"final": 2, "speculative": 2}


async def test_an_abandoned_running_job_keeps_the_worker_until_whisper_ends(jobs: Any) -> None:
    """A job already handed to Whisper cannot be stopped: giving up on it must not
    let the next job queue inside the executor behind it as if the worker were free."""
    stt, clip = jobs
    queue = TranscriptionQueue(stt)
    stt.hold["A"] = asyncio.Event()
    a = asyncio.create_task(queue.transcribe(clip["A"], PROMPT, speculative=True))
    await started(queue, 1)
    a.cancel()
    with pytest.raises(asyncio.CancelledError):
        await a
    d = asyncio.create_task(queue.transcribe(clip["D"], PROMPT))
    await started(queue, 2)
    assert queue.busy and queue.waiting == 1  # D waits: A's thread is still busy
    stt.hold["A"].set()
    transcript = await d
    assert "trilocale" in normalize(transcript.text).split()
    assert stt.log == ["start A", "end A", "start D", "end D"]
    assert not queue.busy


async def test_every_call_of_the_process_shares_one_queue(fakes: Any, whisper: Any) -> None:
    stt = fakes.CountingSTT(whisper)
    factory = make_conversation_factory(stt, tts=None)  # type: ignore[arg-type]
    ctx = CallContext("c1", 1, "rossi", "+39333", "+39020")
    one, two = factory(ctx), factory(ctx)
    assert isinstance(one, VoiceConversation) and isinstance(two, VoiceConversation)
    assert one.stt_queue is two.stt_queue is transcription_queue(stt)
    assert transcription_queue(whisper) is not transcription_queue(stt)
