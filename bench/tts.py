"""Offline TTS benchmark: speed and intelligibility of each installed Italian engine.

For every engine (pico2wave, festival, espeak-ng) the typical agent sentences are
synthesized; we report synthesis time per sentence, real-time factor, and the
intelligibility as Whisper's WER on the audio after the telephone path (16 kHz ->
8 kHz G.711 µ-law -> 16 kHz), plus the time a cached phrase takes to come back.

Usage: python -m bench.tts
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agent.audio import resample, ulaw_decode, ulaw_encode
from agent.stt.settings import STTSettings
from agent.stt.whisper import WhisperSTT
from agent.tts.base import TTSError, Voice
from agent.tts.cache import CachedTTS
from agent.tts.offline import DEFAULT_ORDER, OfflineTTS
from bench.asr import normalize, word_errors
from bench.machine import machine_info, machine_line

SENTENCES = [
    "Buongiorno, ha chiamato l'agenzia immobiliare Rossi. Come posso aiutarla?",
    "Posso sapere il suo nome e cognome?",
    "Desidera acquistare, vendere, affittare o una valutazione?",
    "In quale zona cerca l'immobile?",
    "Qual è il suo budget indicativo?",
    "Perfetto, un nostro consulente la richiamerà domani mattina. Arrivederci.",
    "Le confermo un trilocale in zona Navigli con un budget di trecentocinquantamila euro.",
]


def phone_path(pcm: bytes) -> bytes:
    """What the caller hears: 8 kHz µ-law, back to 16 kHz for the recogniser."""
    return resample(ulaw_decode(ulaw_encode(resample(pcm, 16000, 8000))), 8000, 16000)


async def bench_engine(engine: str, stt: WhisperSTT | None) -> dict[str, Any]:
    tts = OfflineTTS([engine])
    voice = Voice(provider="offline", extra={"engine": engine})
    times: list[float] = []
    audio_s = 0.0
    errors = words = 0
    for text in SENTENCES:
        t0 = time.perf_counter()
        speech = await tts.synthesize(text, voice, None)
        times.append(time.perf_counter() - t0)
        audio_s += speech.duration_s
        if stt is not None:
            hyp = stt.transcribe_sync(phone_path(speech.pcm), beam_size=5).text
            ref = normalize(text)
            errors += word_errors(ref, normalize(hyp))
            words += len(ref)
    with tempfile.TemporaryDirectory() as tmp:
        cache = CachedTTS(tts, Path(tmp))
        await cache.warm([SENTENCES[0]], voice, None)
        t0 = time.perf_counter()
        hit = await cache.synthesize(SENTENCES[0], voice, None)
        cached_ms = (time.perf_counter() - t0) * 1000
        assert hit.cached
    return {
        "engine": engine,
        "sentences": len(SENTENCES),
        "median_ms": statistics.median(times) * 1000,
        "max_ms": max(times) * 1000,
        "audio_s": round(audio_s, 1),
        "rtf": sum(times) / audio_s,
        "wer_phone": errors / words if words else None,
        "cached_ms": cached_ms,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-wer", action="store_true", help="skip the Whisper intelligibility")
    ap.add_argument("--out", type=Path, default=Path("bench-results/tts.json"))
    args = ap.parse_args(argv)
    stt = None
    if not args.no_wer:
        stt = WhisperSTT(STTSettings())
        try:
            stt.load()
        except Exception as exc:
            print(f"no Whisper model, intelligibility skipped: {exc}", file=sys.stderr)
            stt = None
    results = []
    for engine in DEFAULT_ORDER:
        try:
            results.append(asyncio.run(bench_engine(engine, stt)))
        except TTSError as exc:
            print(f"  {engine}: not available ({exc})")
    print(f"\nOffline TTS benchmark ({len(SENTENCES)} agent sentences, Italian)")
    print(f"machine: {machine_line()}")
    header = (
        f"{'engine':<12}{'median ms':>11}{'max ms':>9}{'RTF':>8}{'WER phone':>11}{'cached ms':>11}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        wer = f"{r['wer_phone'] * 100:.1f}%" if r["wer_phone"] is not None else "-"
        print(
            f"{r['engine']:<12}{r['median_ms']:>11.0f}{r['max_ms']:>9.0f}{r['rtf']:>8.3f}"
            f"{wer:>11}{r['cached_ms']:>11.1f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"benchmark": "tts", "machine": machine_info(), "results": results}, indent=2)
    )
    print(f"wrote {args.out}")
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
