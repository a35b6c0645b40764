"""Lead accuracy benchmark: scripted multi-turn Italian calls through the dialogue engine.

Each call in ``bench/data/leads/calls.json`` is played by a simulated caller that
answers the question the agent actually asked (``answers`` by question key),
optionally with scripted ``turns`` first (FAQ, repeat, silence, transfer...) and
``at_confirm`` replies to the summary. Every one of the nine lead fields is
compared with the expected value (unlisted fields must stay empty), so spurious
extraction counts as an error too. A script may also expect ``timing`` (the
caller's own words for when, e.g. "entro l'estate"): it is reported on its own
line, not in the field percentage, so the numbers stay comparable with earlier
runs. ``<hangup>`` in ``turns`` is the caller hanging up there: the result is
taken as the voice pipeline takes it. Text level: the speech engineer's
benchmarks cover audio.

Usage: python -m bench.leads [--data PATH] [--out PATH] [--ollama HOST --model NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.dialogue.base import Action, Reply, Utterance
from agent.dialogue.factory import make_dialogue
from agent.dialogue.state import State
from agent.llm.base import LLMProvider
from bench.machine import machine_info, machine_line

DATA = Path(__file__).parent / "data" / "leads" / "calls.json"
FIELDS = (
    "name",
    "phone",
    "request_type",
    "property_type",
    "zone",
    "budget_min",
    "budget_max",
    "urgency",
    "callback_time",
)
DEFAULT_CALLER = "+393331112222"
MAX_TURNS = 25


@dataclass
class CallResult:
    id: str
    set: str
    fields_ok: int
    fields_total: int
    outcome_ok: bool
    errors: list[str] = field(default_factory=list)
    turns: int = 0
    turn_ms: list[float] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    timing_ok: bool | None = None  # None: the script expects no timing text

    @property
    def perfect(self) -> bool:
        return self.fields_ok == self.fields_total and self.outcome_ok


def add_noise(line: str, rng: random.Random, rate: float = 0.15) -> str:
    """Chat/STT-like noise: no punctuation, lowercase, no accents, and letter typos in
    longer lowercase words (names, capitalised in the scripts, are left alone: their
    spelling is the expected value)."""
    if line.startswith("<"):
        return line
    out = []
    for word in re.findall(r"[\w'’€.,]+", line):
        core = word.strip(".,")
        if len(core) >= 6 and core.islower() and core.isalpha() and rng.random() < rate:
            i = rng.randrange(1, len(core) - 1)
            core = core[:i] + core[i + 1 :] if rng.random() < 0.5 else core[:i] + core[i] + core[i:]
        if not core[:1].isupper():
            core = unicodedata.normalize("NFKD", core)
            core = "".join(c for c in core if not unicodedata.combining(c))
        out.append(core)
    return " ".join(out)


def _utterance(line: str) -> Utterance:
    if line == "<silence>":
        return Utterance("", None, "silence")
    if line.startswith("<dtmf:") and line.endswith(">"):
        return Utterance(line[6:-1], 1.0, "dtmf")
    return Utterance(line, 0.9, "speech")


async def play_call(
    tenant: dict[str, Any],
    call: dict[str, Any],
    llm: LLMProvider | None = None,
    noise_seed: int | None = None,
) -> CallResult:
    caller_id = call.get("caller_id", DEFAULT_CALLER)
    dialogue = make_dialogue(tenant, caller_id, bool(call.get("hours", True)), llm=llm)
    reply: Reply = await dialogue.start()
    script = [call["opening"], *call.get("turns", [])]
    answers = dict(call.get("answers", {}))
    at_confirm = list(call.get("at_confirm", ["sì"]))
    asked: dict[str, int] = {}
    rng = random.Random(f"{noise_seed}:{call['id']}") if noise_seed is not None else None
    turn_ms: list[float] = []
    turns = 0
    while reply.action == Action.CONTINUE and turns < MAX_TURNS:
        if script:
            line = script.pop(0)
            if line == "<hangup>":
                break
        elif dialogue.state == State.CONFIRMING:
            line = at_confirm.pop(0) if at_confirm else "sì"
        else:
            key = dialogue.pending or ""
            asked[key] = asked.get(key, 0) + 1
            # A real caller answers what is asked; asked again, they say they don't know.
            line = answers.get(key, "non saprei") if asked[key] == 1 else "non lo so"
        if rng is not None:
            line = add_noise(line, rng)
        started = time.perf_counter()
        reply = await dialogue.handle(_utterance(line))
        turn_ms.append((time.perf_counter() - started) * 1000)
        turns += 1
    result = dialogue.result()
    expect = call.get("expect", {})
    lead = result["lead"]
    errors = []
    ok = 0
    for name in FIELDS:
        want = expect.get(name)
        if name == "phone" and want is None:
            want = caller_id if caller_id.startswith("+") else ""
        got = lead.get(name)
        if (want in (None, "") and got in (None, "")) or want == got:
            ok += 1
        else:
            errors.append(f"{name}: expected {want!r}, got {got!r}")
    timing_ok = None
    if "timing" in expect:
        timing_ok = lead.get("timing") == expect["timing"]
        if not timing_ok:
            errors.append(f"timing: expected {expect['timing']!r}, got {lead.get('timing')!r}")
    outcome = call.get("outcome", "lead")
    outcome_ok = result["outcome"] == outcome
    if not outcome_ok:
        errors.append(f"outcome: expected {outcome!r}, got {result['outcome']!r}")
    if call.get("confirm", outcome == "lead") and not result["confirmed"]:
        errors.append("the caller never confirmed the summary")
        outcome_ok = False
    return CallResult(
        call["id"],
        call.get("set", ""),
        ok,
        len(FIELDS),
        outcome_ok,
        errors,
        turns,
        turn_ms,
        result["transcript"],
        timing_ok,
    )


def load(path: Path) -> dict[str, Any]:
    """``calls.json`` (with the tenant) plus every other ``*.json`` set in the same folder."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for call in data["calls"]:
        call.setdefault("set", path.stem)
    for extra in sorted(path.parent.glob("*.json")):
        if extra == path:
            continue
        more = json.loads(extra.read_text(encoding="utf-8"))
        for call in more["calls"]:
            call.setdefault("set", extra.stem)
            data["calls"].append(call)
    return data


async def run_all(
    data: dict[str, Any], llm: LLMProvider | None = None, noise_seed: int | None = None
) -> list[CallResult]:
    return [await play_call(data["tenant"], call, llm, noise_seed) for call in data["calls"]]


def summarize(results: list[CallResult]) -> dict[str, Any]:
    fields_ok = sum(r.fields_ok for r in results)
    fields_total = sum(r.fields_total for r in results)
    per_field: dict[str, list[int]] = {f: [0, 0] for f in FIELDS}
    for r in results:
        wrong = {e.split(":", 1)[0] for e in r.errors}
        for f in FIELDS:
            per_field[f][1] += 1
            per_field[f][0] += f not in wrong
    all_ms = sorted(ms for r in results for ms in r.turn_ms)
    timed = [r.timing_ok for r in results if r.timing_ok is not None]
    return {
        "calls": len(results),
        "fields_correct_pct": round(100 * fields_ok / max(1, fields_total), 2),
        "calls_perfect_pct": round(100 * sum(r.perfect for r in results) / max(1, len(results)), 2),
        "outcomes_correct_pct": round(
            100 * sum(r.outcome_ok for r in results) / max(1, len(results)), 2
        ),
        "timing_correct": f"{sum(timed)}/{len(timed)}",
        "per_field_pct": {f: round(100 * a / max(1, n), 1) for f, (a, n) in per_field.items()},
        "turns_mean": round(statistics.mean(r.turns for r in results), 2) if results else 0,
        "turn_ms_p50": round(statistics.median(all_ms), 2) if all_ms else None,
        "turn_ms_p95": round(all_ms[int(0.95 * (len(all_ms) - 1))], 2) if all_ms else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.leads", description=__doc__)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=Path("bench-results/leads.json"))
    ap.add_argument("--ollama", default="", help="Ollama host to add to the rules (optional)")
    ap.add_argument("--model", default="qwen2.5:1.5b-instruct")
    ap.add_argument("--target", type=float, default=95.0)
    ap.add_argument("--noise-seeds", default="1,2,3,4,5", help="comma-separated; empty: none")
    args = ap.parse_args(argv)

    data = load(args.data)
    llm: LLMProvider | None = None
    if args.ollama:
        from agent.llm.ollama import OllamaProvider, OllamaSettings

        llm = OllamaProvider(OllamaSettings(host=args.ollama, model=args.model))
    results = asyncio.run(run_all(data, llm))
    summary = summarize(results)
    summary["sets"] = {
        name: summarize([r for r in results if r.set == name])
        for name in dict.fromkeys(r.set for r in results)
    }
    # The same calls with text noise (typos, no accents/punctuation), fixed seeds.
    seeds = [int(x) for x in args.noise_seeds.split(",") if x.strip()]
    noisy_runs = {seed: asyncio.run(run_all(load(args.data), llm, seed)) for seed in seeds}
    noisy_pcts = [summarize(r)["fields_correct_pct"] for r in noisy_runs.values()]
    summary["noisy"] = {
        "seeds": seeds,
        "fields_correct_pct_per_seed": noisy_pcts,
        "fields_correct_pct_mean": round(statistics.mean(noisy_pcts), 2) if seeds else None,
        "fields_correct_pct_min": min(noisy_pcts) if seeds else None,
    }
    engine = f"rules + ollama {args.model}" if llm else "rules only"

    print(f"Lead accuracy ({engine}), machine: {machine_line()}")
    print(f"{'call':<28} {'fields':>7} {'outcome':>8}  errors")
    for r in results:
        status = "ok" if r.outcome_ok else "WRONG"
        print(f"{r.id:<28} {r.fields_ok:>3}/{r.fields_total:<3} {status:>8}  {'; '.join(r.errors)}")
    print()
    print(f"{'metric':<24} value")
    for key in (
        "calls",
        "fields_correct_pct",
        "calls_perfect_pct",
        "outcomes_correct_pct",
        "timing_correct",
        "turns_mean",
        "turn_ms_p50",
        "turn_ms_p95",
    ):
        print(f"{key:<24} {summary[key]}")
    for name, sub in summary["sets"].items():
        print(
            f"set {name}: {sub['calls']} calls, fields correct {sub['fields_correct_pct']}%"
            f", outcomes {sub['outcomes_correct_pct']}%, timing text {sub['timing_correct']}"
        )
    if seeds:
        print(
            f"with text noise (seeds {seeds}): fields correct mean "
            f"{summary['noisy']['fields_correct_pct_mean']}%, min "
            f"{summary['noisy']['fields_correct_pct_min']}%"
        )
    for seed, runs in noisy_runs.items():
        for r in runs:
            if r.errors:
                print(f"  noisy seed {seed} {r.id}: {'; '.join(r.errors)}")
    print("per field %: " + ", ".join(f"{k} {v}" for k, v in summary["per_field_pct"].items()))
    target_met = summary["fields_correct_pct"] >= args.target
    print(f"target fields correct >= {args.target}%: {'met' if target_met else 'NOT met'}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "leads",
                "engine": engine,
                "machine": machine_info(),
                "summary": summary,
                "target_fields_correct_pct": args.target,
                "target_met": target_met,
                "calls": [
                    {
                        "id": r.id,
                        "set": r.set,
                        "fields_ok": r.fields_ok,
                        "fields_total": r.fields_total,
                        "outcome_ok": r.outcome_ok,
                        "timing_ok": r.timing_ok,
                        "errors": r.errors,
                        "turns": r.turns,
                    }
                    for r in results
                ],
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {args.out}")
    return 0 if target_met else 1


if __name__ == "__main__":
    sys.exit(main())
