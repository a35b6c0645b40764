"""Fakes of OUR interfaces for the voice pipeline tests: the call session side
(AudioOut / CallControl / a caller feeding 20 ms frames in real time) and a tiny
scripted Dialogue. Speech recognition and synthesis in these tests are the real ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent.audio import frames, silence
from agent.dialogue.base import Action, LeadDraft, Reply, Utterance
from agent.stt.settings import STTSettings
from agent.stt.whisper import WhisperSTT
from agent.tts.base import Voice
from agent.tts.offline import OfflineTTS

FRAME = 640
FRAME_S = 0.02


class FakeAudioOut:
    """Plays queued audio in real time (20 ms per frame), like the call's media leg."""

    def __init__(self) -> None:
        self.queue = bytearray()
        self.played = bytearray()
        self.flushes: list[float] = []
        self.plays: list[tuple[float, int]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.create_task(self._player())

    async def _player(self) -> None:
        while True:
            if self.queue:
                chunk = bytes(self.queue[:FRAME])
                del self.queue[:FRAME]
                self.played += chunk
                if not self.queue:
                    self._idle.set()
            await asyncio.sleep(FRAME_S)

    async def play(self, pcm: bytes) -> None:
        self.plays.append((time.monotonic(), len(pcm)))
        self.queue += pcm
        self._idle.clear()

    async def flush(self) -> None:
        self.flushes.append(time.monotonic())
        self.queue.clear()
        self._idle.set()

    async def wait_played(self) -> None:
        await self._idle.wait()

    async def wait_greeting(self) -> None:
        """Until the first audio was queued and has been played."""
        while not self.plays:
            await asyncio.sleep(0.01)
        await self._idle.wait()

    @property
    def speaking(self) -> bool:
        return bool(self.queue)

    def close(self) -> None:
        self._task.cancel()


@dataclass
class FakeControl:
    turns: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    hung_up: str | None = None
    transfer_ok: bool = False
    transfers: list[str] = field(default_factory=list)

    async def transfer(self, number: str) -> bool:
        self.transfers.append(number)
        return self.transfer_ok

    async def hangup(self, reason: str = "") -> None:
        self.hung_up = reason

    async def record_turn(self, speaker: str, text: str, **fields: Any) -> None:
        self.turns.append({"speaker": speaker, "text": text, **fields})

    async def event(self, kind: str, **data: Any) -> None:
        self.events.append((kind, data))


class FakeCaller:
    """audio_in: silence frames in real time, speech when told to, ends on hangup()."""

    def __init__(self) -> None:
        self.pending: asyncio.Queue[bytes] = asyncio.Queue()
        self.sent_frames = 0
        self.speech_onsets: list[int] = []  # frame index at which each say() began
        self._hangup = asyncio.Event()
        self._said = asyncio.Event()

    async def frames(self) -> AsyncIterator[bytes]:
        next_t = time.monotonic()
        while not self._hangup.is_set():
            try:
                frame = self.pending.get_nowait()
            except asyncio.QueueEmpty:
                frame = silence(20)
                self._said.set()
            self.sent_frames += 1
            yield frame
            next_t += FRAME_S
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))

    async def say(self, pcm: bytes, wait: bool = True) -> None:
        self.speech_onsets.append(self.sent_frames + self.pending.qsize())
        self._said.clear()
        for f in frames(pcm):
            self.pending.put_nowait(f)
        if wait:
            await self._said.wait()

    def hangup(self) -> None:
        self._hangup.set()


class ScriptedDialogue:
    """A tiny Dialogue: greets, echoes what it understood, closes after ``turns``."""

    def __init__(
        self,
        greeting: list[str],
        turns: int = 2,
        delay_s: float = 0.0,
        reply: list[str] | None = None,
    ) -> None:
        self.lead = LeadDraft()
        self.greeting = greeting
        self.reply = reply or ["Ho capito.", "Mi dica pure altro."]
        self.max_turns = turns
        self.delay_s = delay_s
        self.heard: list[Utterance] = []
        self.transfer_failures = 0
        self.returned: list[float] = []  # when each handle() produced its reply

    async def start(self) -> Reply:
        return Reply(self.greeting, provider="script")

    async def handle(self, utterance: Utterance) -> Reply:
        self.heard.append(utterance)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        self.returned.append(time.monotonic())
        if utterance.kind == "dtmf" and utterance.text == "0":
            return Reply(["La metto in contatto con un collega."], Action.TRANSFER, "+390200000")
        if len(self.heard) >= self.max_turns:
            return Reply(["Grazie, arrivederci."], Action.HANGUP, provider="script")
        if utterance.kind == "silence":
            return Reply(["È ancora in linea?"], provider="script")
        return Reply(list(self.reply), provider="script")

    async def transfer_failed(self) -> Reply:
        self.transfer_failures += 1
        return Reply(["Il collega non è disponibile, lasci pure un messaggio."])

    def result(self) -> dict[str, Any]:
        return {"outcome": "completed", "heard": [u.text for u in self.heard]}


class CountingSTT:
    """The real Whisper, with a log of what reaches it, in order ("start A", "end A").

    ``hold[label]`` (an asyncio.Event) keeps that job "running" until it is set, so a
    test decides when the worker frees up instead of racing Whisper's speed."""

    def __init__(self, whisper: WhisperSTT) -> None:
        self.whisper = whisper
        self.name = whisper.name
        self.settings = whisper.settings
        self.calls: list[float] = []  # audio seconds of each transcription, in order
        self.log: list[str] = []
        self.labels: dict[int, str] = {}  # pcm length -> label
        self.hold: dict[str, asyncio.Event] = {}

    async def transcribe(self, pcm: bytes, prompt: str = "", *, busy: bool = False) -> Any:
        label = self.labels.get(len(pcm), str(len(pcm)))
        self.calls.append(len(pcm) / 32000)
        self.log.append(f"start {label}" + (" busy" if busy else ""))
        try:
            if label in self.hold:
                await self.hold[label].wait()
            return await self.whisper.transcribe(pcm, prompt, busy=busy)
        finally:
            self.log.append(f"end {label}")


MODEL_DIR = Path(STTSettings().model_dir)


@pytest.fixture(scope="session")
def whisper() -> WhisperSTT:
    if not (MODEL_DIR / "model.bin").exists():
        pytest.skip("Whisper model not installed (make install)")
    stt = WhisperSTT(STTSettings(model_dir=MODEL_DIR))
    stt.load()
    return stt


@pytest.fixture(scope="session")
def offline_tts() -> OfflineTTS:
    return OfflineTTS()


@pytest.fixture
async def say_pcm(offline_tts: OfflineTTS):
    """Caller speech: Italian synthesized with the offline voice (16 kHz)."""

    async def make(text: str) -> bytes:
        return (await offline_tts.synthesize(text, Voice(), None)).pcm

    return make


@pytest.fixture
def fakes() -> Any:
    """The fake classes, for tests (conftest modules are not importable by name)."""
    import types

    return types.SimpleNamespace(
        AudioOut=FakeAudioOut,
        Caller=FakeCaller,
        Control=FakeControl,
        Dialogue=ScriptedDialogue,
        CountingSTT=CountingSTT,
    )
