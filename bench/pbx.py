"""PBX benchmark: real SIP calls through Asterisk into the ARI controller.

Starts a throwaway Asterisk instance (same templates as production, free ports),
the FastAGI routing service and the controller with the greeting conversation
(product TTS stack: cache + offline Italian voice), then measures at the
simulated caller:

* call setup: INVITE -> 200 OK (includes AGI routing, tenant lookup, call row,
  bridge + chan_websocket media set-up, answer);
* time to greeting: 200 OK -> first voiced audio heard by the caller (TTS + media);
* caller audio received by the controller / audio the caller sent;
* the same for 10 simultaneous calls;
* ARI reconnect time after an Asterisk restart.

Usage: python -m bench.pbx [--calls 5] [--concurrent 10] [--restarts 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import machine_info, machine_line
from bench.throwaway_pbx import (
    DID,
    ThrowawayPbx,
    argument_parser,
    asterisk_prefix,
    serving,
    throwaway_pbx,
)
from centralino.calls.models import Call
from centralino.calls.service import CallStore
from centralino.db.session import Database
from centralino.simcaller import place_call
from centralino.simcaller.audio import write_wav
from centralino.tenants.service import TenantService
from pbx.ari.client import AriClient
from pbx.calls.greeting import greeting_factory
from pbx.controller import Controller
from pbx.settings import ari_settings


def caller_wav(path: Path, seconds: float) -> Path:
    t = np.arange(int(seconds * 8000)) / 8000
    pcm = np.sin(2 * np.pi * 300 * t) * (0.55 + 0.45 * np.sin(2 * np.pi * 3 * t)) * 8000
    write_wav(path, pcm.astype(np.int16))
    return path


def stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "n": len(values),
        "min": round(ordered[0], 3),
        "p50": round(statistics.median(ordered), 3),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3),
        "max": round(ordered[-1], 3),
    }


async def run_calls(
    n: int, concurrent: bool, sip_port: int, db: Database, wav: Path
) -> dict[str, Any]:
    script = {
        "utterances": [{"wav": str(wav), "wait_for_agent": True}],
        "hangup_after_ms": 500,
        "max_wait_ms": 20000,
    }

    async def one() -> Any:
        return await place_call(DID, port=sip_port, script=script, timeout=20)

    if concurrent:
        reports = await asyncio.gather(*(one() for _ in range(n)))
    else:
        reports = [await one() for _ in range(n)]
    await asyncio.sleep(1.0)
    setup, greeting, ratio = [], [], []
    answered = 0
    for r in reports:
        if not r.answered:
            continue
        answered += 1
        if r.setup_ms is not None:
            setup.append(r.setup_ms / 1000)
        if r.heard.segments:
            greeting.append(r.heard.segments[0].start_s)
        with db.session() as s:
            call = s.query(Call).filter(Call.sip_call_id == r.call_id).first()
            # The simulated caller streams RTP (words and silence) from answer to BYE.
            sent_s = r.rtp.get("sent_packets", 0) * 0.02
            if call is not None and call.caller_audio_s is not None and sent_s:
                ratio.append(call.caller_audio_s / sent_s)
    return {
        "calls": n,
        "answered": answered,
        "setup_s": stats(setup),
        "time_to_greeting_s": stats(greeting),
        "caller_audio_ratio": stats(ratio),
    }


async def bench(args: argparse.Namespace, env: ThrowawayPbx) -> dict[str, Any]:
    from agent.tts.factory import build_tts
    from pbx.calls.greeting import warm_greetings

    tenants = TenantService(env.db)
    tts = build_tts(env.config)
    # As `centralino serve` does: greetings pre-synthesized into the TTS cache.
    snapshots = [
        {"id": t.id, "slug": t.slug, "name": t.name, "greeting": t.greeting,
         "voice": t.voice, "language": t.language}
        for t in tenants.all()
    ]  # fmt: skip
    await warm_greetings(tts, snapshots)
    controller = Controller(
        ari=AriClient(ari_settings(env.config)),
        store=CallStore(env.db),
        tenants=tenants,
        conversation_factory=greeting_factory(tts, listen_s=30),
        recordings_dir=env.config.recordings_dir,
    )
    wav = caller_wav(env.work / "caller.wav", 2.0)
    sip, db = env.instance.settings.sip_port, env.db
    results: dict[str, Any] = {}
    async with serving(env, controller):
        results["sequential"] = await run_calls(args.calls, False, sip, db, wav)
        results["concurrent"] = await run_calls(args.concurrent, True, sip, db, wav)
        reconnects = []
        for _ in range(args.restarts):
            before = controller.ari.connect_count
            await asyncio.to_thread(env.instance.process.restart)
            back = time.monotonic()
            while controller.ari.connect_count <= before:
                await asyncio.sleep(0.02)
            reconnects.append(time.monotonic() - back)
        results["reconnect_after_restart_s"] = stats(reconnects)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("pbx")
    parser.add_argument("--restarts", type=int, default=2)
    args = parser.parse_args(argv)

    prefix = asterisk_prefix()
    if prefix is None:
        return 1
    with throwaway_pbx(prefix, "pbx") as env:
        results = asyncio.run(bench(args, env))

    print(f"\nPBX benchmark on {machine_line()} (Asterisk from {prefix})")
    print(f"{'scenario':<12} {'answered':>9} {'setup p50/max s':>16} "
          f"{'greeting p50/max s':>19} {'caller audio min':>17}")  # fmt: skip
    for name in ("sequential", "concurrent"):
        r = results[name]
        ratio = r["caller_audio_ratio"]
        print(
            f"{name:<12} {r['answered']:>4}/{r['calls']:<4} "
            f"{r['setup_s'].get('p50', 0):>7.3f}/{r['setup_s'].get('max', 0):<8.3f} "
            f"{r['time_to_greeting_s'].get('p50', 0):>9.3f}/"
            f"{r['time_to_greeting_s'].get('max', 0):<9.3f} "
            f"{ratio.get('min', 0):>16.1%}"
        )
    rec = results["reconnect_after_restart_s"]
    print(f"ARI reconnect after Asterisk restart: p50 {rec.get('p50')} s, max {rec.get('max')} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": "pbx", "machine": machine_info(), "results": results}
    args.out.write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.out}")
    ok = all(results[n]["answered"] == results[n]["calls"] for n in ("sequential", "concurrent"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
