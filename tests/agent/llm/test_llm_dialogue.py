"""The dialogue engine with Ollama (local fake server speaking its API, see conftest.py).

The LLM may only fill gaps the rules left, and only with validated values; when
it is slow or broken the rules answer within the turn budget.
"""

from __future__ import annotations

import json
import time

from agent.dialogue.base import Action, Utterance
from agent.dialogue.factory import make_dialogue
from agent.extraction import EXTRACTION_SCHEMA
from agent.llm.ollama import OllamaProvider, OllamaSettings

TENANT = {
    "id": 1,
    "slug": "demo",
    "name": "Immobiliare Demo",
    "greeting": "",
    "prompt_template": "Sei la centralinista di {{ agency }}. Zone: {{ zones }}.",
    "questions": [],
    "faq": [],
    "zones": ["Navigli", "Brera", "Isola"],
    "transfer_number": "+390212345600",
    "settings": {"dialogue": {"llm_budget_s": 0.4}},
}
EMPTY = dict.fromkeys(EXTRACTION_SCHEMA["properties"])


def dialogue(url: str):
    llm = OllamaProvider(OllamaSettings(host=url, model="qwen2.5:1.5b-instruct"))
    return make_dialogue(TENANT, "+393331112222", True, llm=llm), llm


async def test_llm_fills_gaps_with_validated_values(ollama_server):
    # The rules cannot read "per settembre" as an urgency nor "la signora Ferri" as a name.
    ollama_server.reply = json.dumps(
        {
            **EMPTY,
            "name": "Anna Ferri",
            "urgency": "medium",
            "zone": "Bovisa",  # not a tenant zone: must be dropped
            "budget_max": 20,  # implausible: must be dropped
            "request_type": "buy",  # the rules found it too: the rules win
        }
    )
    d, llm = dialogue(ollama_server.url)
    try:
        await d.start()
        reply = await d.handle(
            Utterance("qui la signora ferri, vorrei vendere un bilocale per settembre")
        )
    finally:
        await llm.aclose()
    assert reply.provider == "ollama"
    assert reply.llm_ms is not None
    assert d.lead.name == "Anna Ferri"
    assert d.lead.urgency == "medium"
    assert d.lead.request_type == "sell"
    assert d.lead.zone == "" and d.lead.budget_max is None
    assert d.lead.confidence["name"] == 0.6  # LLM-only fields carry a lower confidence
    [req] = ollama_server.requests
    assert req["format"] == EXTRACTION_SCHEMA
    assert req["messages"][0]["role"] == "system"
    assert req["messages"][0]["content"].startswith(
        "Sei la centralinista di Immobiliare Demo. Zone: Navigli, Brera, Isola."
    )
    assert req["messages"][-1] == {
        "role": "user",
        "content": "qui la signora ferri, vorrei vendere un bilocale per settembre",
    }


async def test_slow_llm_rules_answer_within_the_turn_budget(ollama_server):
    ollama_server.delay_s = 5.0
    d, llm = dialogue(ollama_server.url)
    try:
        await d.start()
        started = time.perf_counter()
        reply = await d.handle(Utterance("Sono Mario Rossi, cerco un trilocale ai Navigli"))
        elapsed = time.perf_counter() - started
    finally:
        await llm.aclose()
    assert reply.provider == "rules"
    assert reply.action == Action.CONTINUE
    assert d.lead.name == "Mario Rossi" and d.lead.zone == "Navigli"
    assert elapsed < 0.4 + 1.5  # the budget plus a generous margin, far below the 5 s sleep
    assert len(ollama_server.requests) == 1


async def test_invalid_llm_json_changes_nothing(ollama_server):
    ollama_server.reply = '{"name": "Mario", "budget_max": "tanti"}'
    d, llm = dialogue(ollama_server.url)
    try:
        await d.start()
        reply = await d.handle(Utterance("cerco un trilocale ai Navigli"))
    finally:
        await llm.aclose()
    assert reply.provider == "rules"
    assert d.lead.name == "" and d.lead.property_type == "trilocale"


async def test_unreachable_llm_whole_call_still_works(free_port):
    d, llm = dialogue(f"http://127.0.0.1:{free_port}")
    try:
        await d.start()
        for line in [
            "Sono Mario Rossi, cerco un trilocale ai Navigli sui 400 mila",
            "subito",
            "domani mattina",
        ]:
            reply = await d.handle(Utterance(line))
            assert reply.provider == "rules"
        reply = await d.handle(Utterance("sì"))
    finally:
        await llm.aclose()
    assert reply.action == Action.HANGUP
    assert d.result()["outcome"] == "lead" and d.result()["confirmed"]


async def test_llm_is_skipped_when_the_rules_understood_the_turn(ollama_server):
    ollama_server.reply = json.dumps(EMPTY)
    d, llm = dialogue(ollama_server.url)
    try:
        await d.start()
        await d.handle(Utterance("vorrei comprare"))  # nothing pending yet: asked
        asked = len(ollama_server.requests)
        assert d.pending == "name"
        reply = await d.handle(Utterance("Mario Rossi"))  # the answer to the question
        assert reply.provider == "rules" and reply.llm_ms is None
        assert len(ollama_server.requests) == asked  # no LLM round trip for it
        await d.handle(Utterance("boh, quella zona vicino al parco grande"))  # not understood
        assert len(ollama_server.requests) == asked + 1
    finally:
        await llm.aclose()
