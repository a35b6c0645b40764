"""Talk to the receptionist in a terminal: ``python -m agent.dialogue [--tenant FILE]``.

Type what the caller says; an empty line is a silence, ``#0`` sends DTMF 0. The
final result (lead, outcome, missing fields) is printed as JSON at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from agent.dialogue.base import Action, Utterance
from agent.dialogue.factory import make_dialogue

DEMO = Path(__file__).resolve().parents[2] / "centralino" / "tenants" / "demo.toml"


def load_tenant(path: Path, slug: str = "") -> dict[str, Any]:
    tenants = tomllib.loads(path.read_text(encoding="utf-8")).get("tenant", [])
    for t in tenants:
        if not slug or t.get("slug") == slug:
            return {"id": 0, **t}
    raise SystemExit(f"no tenant {slug!r} in {path}")


async def chat(tenant: dict[str, Any], caller: str, hours: bool) -> dict[str, Any]:
    dialogue = make_dialogue(tenant, caller, hours)
    reply = await dialogue.start()
    print("agente:", reply.text, flush=True)
    while reply.action == Action.CONTINUE:
        line = sys.stdin.readline()
        if not line:
            break
        text = line.strip()
        if text.startswith("#"):
            utterance = Utterance(text[1:], 1.0, "dtmf")
        elif not text:
            utterance = Utterance("", None, "silence")
        else:
            utterance = Utterance(text, 1.0, "speech")
        reply = await dialogue.handle(utterance)
        action = f"{reply.action} {reply.transfer_to}".strip()
        suffix = f"  [{action}]" if reply.action != Action.CONTINUE else ""
        print("agente:", reply.text + suffix, flush=True)
    return dialogue.result()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m agent.dialogue", description=__doc__)
    ap.add_argument("--tenant", type=Path, default=DEMO, help="tenant TOML file")
    ap.add_argument("--slug", default="")
    ap.add_argument("--caller", default="+393331112222")
    ap.add_argument("--closed", action="store_true", help="outside business hours")
    args = ap.parse_args(argv)
    result = asyncio.run(chat(load_tenant(args.tenant, args.slug), args.caller, not args.closed))
    result.pop("transcript")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
