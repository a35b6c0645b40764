"""Agent-side latency of the voice pipeline, in process (no SIP): real VAD, Whisper STT,
dialogue engine (rules) and offline TTS; the call session is simulated in real time.

Reported per caller turn, from the end of the caller's speech (last voiced frame):
``stt_ms`` (transcript ready), ``reply_ms`` (dialogue reply ready), ``first_audio_ms``
(first reply audio handed to the call's audio output). The end-of-speech detection
itself (``end_silence_ms``, 550 ms) comes on top at the caller; the SIP-level latency
measured at the caller is the pbx benchmark's job.

Usage: python -m bench.voice [--calls 1,3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from agent.audio import frames, silence
from agent.conversation import CallContext
from agent.stt.settings import STTSettings
from agent.stt.whisper import WhisperSTT
from agent.tts.base import Voice
from agent.tts.cache import CachedTTS
from agent.tts.offline import OfflineTTS
from agent.voice.factory import make_conversation_factory
from agent.voice.pipeline import VoiceSettings
from bench.machine import machine_info, machine_line

ANSWERS = [
    "Mi chiamo Mario Bianchi.",
    "Vorrei comprare un trilocale nella zona di Città Studi.",
    "Il budget è di trecentomila euro.",
    "Entro tre mesi.",
    "Mi richiami domani mattina.",
]
TENANT = {
    "name": "Agenzia Rossi",
    "slug": "rossi",
    "zones": ["Navigli", "Isola", "Città Studi"],
    "vocabulary": ["trilocale", "bilocale"],
    "voice": {"provider": "offline"},
}


class Out:
    def __init__(self) -> None:
        self.queue = bytearray()
        self.idle = asyncio.Event()
        self.idle.set()
        self.plays = 0
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            if self.queue:
                del self.queue[:640]
                if not self.queue:
                    self.idle.set()
            await asyncio.sleep(0.02)

    async def play(self, pcm: bytes) -> None:
        self.plays += 1
        self.queue += pcm
        self.idle.clear()

    async def flush(self) -> None:
        self.queue.clear()
        self.idle.set()

    async def wait_played(self) -> None:
        await self.idle.wait()

    @property
    def speaking(self) -> bool:
        return bool(self.queue)


class Control:
    def __init__(self) -> None:
        self.turns: list[dict[str, Any]] = []

    async def transfer(self, number: str) -> bool:
        return False

    async def hangup(self, reason: str = "") -> None:
        pass

    async def record_turn(self, speaker: str, text: str, **fields: Any) -> None:
        self.turns.append({"speaker": speaker, "text": text, **fields})

    async def event(self, kind: str, **data: Any) -> None:
        pass


async def one_call(factory: Any, clips: list[bytes], n: int) -> list[dict[str, Any]]:
    out, control = Out(), Control()
    pending: asyncio.Queue[bytes] = asyncio.Queue()
    done = asyncio.Event()

    async def audio_in() -> AsyncIterator[bytes]:
        t = time.monotonic()
        while not done.is_set():
            yield pending.get_nowait() if not pending.empty() else silence(20)
            t += 0.02
            await asyncio.sleep(max(0.0, t - time.monotonic()))

    async def caller() -> None:
        for clip in clips:
            await asyncio.sleep(0.3)
            await out.wait_played()
            plays = out.plays
            for f in frames(clip):
                pending.put_nowait(f)
            while out.plays == plays:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        await out.wait_played()
        done.set()

    ctx = CallContext(f"bench-{n}", 1, "rossi", "+393331112233", "+390212345678", tenant=TENANT)
    acting = asyncio.create_task(caller())
    try:
        await asyncio.wait_for(factory(ctx).run(ctx, audio_in(), out, control), 180)
    finally:
        acting.cancel()
        done.set()
        out.task.cancel()
    return [t for t in control.turns if t["speaker"] == "agent" and t.get("first_audio_ms")]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p * (len(values) - 1)))]


async def run(calls: list[int]) -> list[dict[str, Any]]:
    stt = WhisperSTT(STTSettings())
    await stt.start()
    offline = OfflineTTS()
    tts = CachedTTS(offline, Path("var/tts-cache"))
    clips = [(await offline.synthesize(a, Voice(), None)).pcm for a in ANSWERS]
    factory = make_conversation_factory(stt, tts, settings=VoiceSettings(silence_timeout_s=10))
    results = []
    for n in calls:
        started = time.perf_counter()
        per_call = await asyncio.gather(*(one_call(factory, clips, i) for i in range(n)))
        turns = [t for call in per_call for t in call]
        row: dict[str, Any] = {
            "calls": n,
            "turns": len(turns),
            "wall_s": time.perf_counter() - started,
        }
        for key in ("stt_ms", "reply_ms", "first_audio_ms"):
            vals = [float(t[key]) for t in turns if t.get(key) is not None]
            row[key] = {
                "median": statistics.median(vals) if vals else None,
                "p95": pct(vals, 0.95) if vals else None,
            }
        results.append(row)
    stt.close()
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", default="1,3", help="simultaneous calls per round")
    ap.add_argument("--out", type=Path, default=Path("bench-results/voice.json"))
    args = ap.parse_args(argv)
    results = asyncio.run(run([int(c) for c in args.calls.split(",")]))
    print("\nVoice pipeline latency (in process, from the end of the caller's speech)")
    print(f"machine: {machine_line()}")
    header = (
        f"{'calls':>5}{'turns':>7}{'STT med/p95':>16}{'reply med/p95':>16}{'1st audio med/p95':>20}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        cells = [
            f"{r[k]['median']:.0f}/{r[k]['p95']:.0f}" if r[k]["median"] is not None else "-"
            for k in ("stt_ms", "reply_ms", "first_audio_ms")
        ]
        print(f"{r['calls']:>5}{r['turns']:>7}{cells[0]:>16}{cells[1]:>16}{cells[2]:>20}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"benchmark": "voice", "machine": machine_info(), "results": results}, indent=2)
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
