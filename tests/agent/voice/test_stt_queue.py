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
        "start D busy",  # final, queued last, runs first; C and B still wait: no carrier
        "start C busy",  # promoted: before B, queued earlier
        "start B",  # nobody waits any more: decoded with the carrier
    ]
    assert queue.started == {"final": 2, "speculative": 2}
    assert queue.started_busy == 2


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


CTX = CallContext("c1", 1, "rossi", "+39333", "+39020")


@pytest.fixture
async def turn_on_a_bet(jobs: Any) -> Any:
    """Another call's job A holds the worker; this call's turn has ended and waits for
    its speculative job B, queued behind A (promoted to final by the turn's end)."""
    import types

    from agent.stt.vad import Segment
    from agent.voice.pipeline import _Heard

    stt, clip = jobs
    queue = TranscriptionQueue(stt)
    stt.hold["A"] = asyncio.Event()
    other_call = asyncio.create_task(queue.transcribe(clip["A"], PROMPT))
    await started(queue, 1)
    early = asyncio.create_task(queue.transcribe(clip["B"], PROMPT, speculative=True))
    dialogue: Any = None  # _understand never reaches the dialogue nor the voice
    conv = VoiceConversation(lambda ctx: dialogue, stt, tts=dialogue, stt_queue=queue)
    pcm = clip["B"]
    segment = Segment(pcm, 0, len(pcm) // 32, len(pcm) // 32, "silence")
    heard = _Heard(segment, speech_end=0.0, during_agent=False, early=early)
    turn = asyncio.create_task(conv._understand("speech", heard, PROMPT, CTX))
    await started(queue, 2)
    assert queue.waiting == 1
    return types.SimpleNamespace(
        stt=stt, queue=queue, other_call=other_call, early=early, conv=conv, turn=turn
    )


async def test_a_call_cancelled_while_its_bet_waits_queues_no_final_transcription(
    turn_on_a_bet: Any,
) -> None:
    """The call's own task is cancelled (the call is over) while its turn waits for the
    speculative job: that must end the turn, not queue a final transcription that would
    wait in the shared queue ahead of the live calls."""
    t = turn_on_a_bet
    t.turn.cancel()
    for _ in range(20):  # a few loop iterations, no wall-clock wait
        if t.turn.done():
            break
        await asyncio.sleep(0)
    # Before the fix the turn swallowed its own cancellation and queued a final job of
    # B behind A: still running, waiting for a transcript nobody would read.
    assert t.turn.cancelled(), t.stt.log
    assert t.early.cancelled()
    assert t.queue.waiting == 0  # nothing of the dead call is left in the queue
    t.stt.hold["A"].set()
    await t.other_call
    assert t.stt.log == ["start A", "end A"]
    assert t.conv.early_stt_used == 0


async def test_a_cancelled_bet_alone_falls_back_to_a_final_transcription(
    turn_on_a_bet: Any,
) -> None:
    """The speculative job itself cancelled while the call goes on: the turn is still
    transcribed, by a final job."""
    t = turn_on_a_bet
    t.early.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t.early
    await started(t.queue, 2)
    assert t.queue.waiting == 1  # the turn's final job of the same audio replaced the bet
    t.stt.hold["A"].set()
    await t.other_call
    utterance, _, transcript = await t.turn
    assert utterance is not None and transcript is not None
    assert "trilocale" in normalize(utterance.text).split()
    assert t.stt.log == ["start A", "end A", "start B", "end B"]
    assert t.queue.started == {"final": 2, "speculative": 0} and t.conv.early_stt_used == 0
