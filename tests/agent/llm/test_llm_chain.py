"""FallbackChain: Ollama (local fake server, see conftest.py) first, rules always in time.

Timing assertions compare with the turn budget plus a generous margin (the
budget is the contract; the margin absorbs a loaded CI machine). What matters is
that the chain did not wait for the slow server's 5 s.
"""

from __future__ import annotations

import json
import time

import pytest

from agent.extraction import EXTRACTION_SCHEMA, Extractor
from agent.llm.base import LLMError, LLMProvider, LLMResult, TextVerdict
from agent.llm.chain import FallbackChain
from agent.llm.ollama import OllamaProvider, OllamaSettings
from agent.llm.rules import DEFAULT_TEXT, RulesProvider

ZONES = ["Navigli", "Brera", "Isola"]
MESSAGES = [
    {"role": "system", "content": "Estrai i dati."},
    {"role": "user", "content": "Sono Mario Rossi, cerco un trilocale ai Navigli sui 400 mila"},
]
RULES_DATA = {
    "name": "Mario Rossi",
    "phone": None,
    "request_type": "buy",
    "property_type": "trilocale",
    "zone": "Navigli",
    "budget_min": None,
    "budget_max": 400000,
    "urgency": None,
    "callback_time": None,
}
BUDGET = 0.4
MARGIN = 1.5


def chain_for(url: str, budget: float = BUDGET) -> FallbackChain:
    ollama = OllamaProvider(OllamaSettings(host=url, timeout_s=10))
    return FallbackChain([ollama], RulesProvider(Extractor(ZONES)), budget_s=budget)


async def test_rules_provider_alone():
    rules = RulesProvider(Extractor(ZONES))
    result = await rules.chat(MESSAGES, schema=EXTRACTION_SCHEMA)
    assert result.provider == "rules"
    assert result.data == RULES_DATA
    assert json.loads(result.text) == RULES_DATA
    free = await rules.chat(MESSAGES)
    assert free.text == DEFAULT_TEXT and free.data is None


async def test_ollama_answer_is_used_when_valid(ollama_server):
    llm_data = {**RULES_DATA, "urgency": "high"}
    ollama_server.reply = json.dumps(llm_data)
    chain = chain_for(ollama_server.url, budget=5)
    try:
        result = await chain.chat(MESSAGES, schema=EXTRACTION_SCHEMA)
    finally:
        await chain.aclose()
    assert result.provider == "ollama"
    assert result.data == llm_data
    assert result.fallbacks == []
    assert ollama_server.requests[0]["format"] == EXTRACTION_SCHEMA


async def test_slow_ollama_falls_back_to_rules_within_budget(ollama_server):
    ollama_server.delay_s = 5.0
    chain = chain_for(ollama_server.url)
    try:
        started = time.perf_counter()
        result = await chain.chat(MESSAGES, schema=EXTRACTION_SCHEMA)
        elapsed = time.perf_counter() - started
    finally:
        await chain.aclose()
    assert result.provider == "rules"
    assert result.data == RULES_DATA
    assert "timeout" in result.fallbacks[0]
    assert len(ollama_server.requests) == 1  # Ollama was asked...
    assert elapsed < BUDGET + MARGIN  # ...but not waited for (it sleeps 5 s)
    assert elapsed < ollama_server.delay_s


async def test_unreachable_ollama_falls_back_and_cools_down(free_port):
    chain = chain_for(f"http://127.0.0.1:{free_port}")
    try:
        started = time.perf_counter()
        first = await chain.chat(MESSAGES, schema=EXTRACTION_SCHEMA)
        assert time.perf_counter() - started < BUDGET + MARGIN
        second = await chain.chat(MESSAGES, schema=EXTRACTION_SCHEMA)
    finally:
        await chain.aclose()
    assert first.provider == second.provider == "rules"
    assert first.data == RULES_DATA
    assert "unreachable" in first.fallbacks[0]
    # A dead server is not retried every turn: the next turn skips it at once.
    assert "cooling down" in second.fallbacks[0]


@pytest.mark.parametrize(
    "reply",
    [
        "Mi dispiace, non posso aiutarla.",
        json.dumps({**RULES_DATA, "budget_max": "400 mila"}),
        json.dumps({"name": "Mario"}),  # required keys missing
    ],
)
async def test_invalid_ollama_output_falls_back_to_rules(ollama_server, reply):
    ollama_server.reply = reply
    chain = chain_for(ollama_server.url, budget=5)
    try:
        result = await chain.chat(MESSAGES, schema=EXTRACTION_SCHEMA)
    finally:
        await chain.aclose()
    assert result.provider == "rules"
    assert result.data == RULES_DATA
    assert result.fallbacks and result.fallbacks[0].startswith("ollama:")


async def test_stream_falls_back_when_first_chunk_is_late(ollama_server):
    ollama_server.delay_s = 5.0
    chain = chain_for(ollama_server.url)
    try:
        started = time.perf_counter()
        chunks = [c async for c in chain.stream(MESSAGES)]
        elapsed = time.perf_counter() - started
    finally:
        await chain.aclose()
    assert chunks == [DEFAULT_TEXT]
    assert elapsed < BUDGET + MARGIN


async def test_stream_from_ollama(ollama_server):
    ollama_server.reply = "La richiamiamo domani mattina."
    chain = chain_for(ollama_server.url, budget=5)
    try:
        text = "".join([c async for c in chain.stream(MESSAGES)])
    finally:
        await chain.aclose()
    assert text == ollama_server.reply


class Exploding(LLMProvider):
    name = "exploding"

    async def chat(self, messages, *, schema=None, timeout=None) -> LLMResult:
        raise ZeroDivisionError("provider bug")


class Broken(LLMProvider):
    name = "broken"

    async def chat(self, messages, *, schema=None, timeout=None) -> LLMResult:
        raise LLMError("model file corrupt")


async def test_provider_bugs_never_reach_the_caller():
    chain = FallbackChain([Exploding(), Broken()], RulesProvider(Extractor(ZONES)))
    result = await chain.chat(MESSAGES, schema=EXTRACTION_SCHEMA)
    assert result.provider == "rules"
    assert [f.split(":")[0] for f in result.fallbacks] == ["exploding", "broken"]


def test_budget_must_be_positive():
    with pytest.raises(ValueError):
        FallbackChain([], RulesProvider(), budget_s=0)


# -- stream_text: free text judged while it streams (answers the caller will hear) ----


ANSWER_MESSAGES = [{"role": "system", "content": "Rispondi."}, {"role": "user", "content": "Ciao"}]


async def test_stream_text_stops_reading_once_the_check_has_enough(ollama_server):
    ollama_server.reply = "Prima frase. Seconda frase. " + "Altro testo. " * 50
    ollama_server.chunk_delay_s = 0.01
    seen: list[str] = []

    def check(text: str, final: bool) -> TextVerdict:
        seen.append(text)
        if text.count(".") >= 2:
            return TextVerdict.accept("Prima frase. Seconda frase.")
        return TextVerdict.more()

    chain = chain_for(ollama_server.url, budget=5)
    try:
        result = await chain.stream_text(ANSWER_MESSAGES, check, max_tokens=40)
    finally:
        await chain.aclose()
    assert result.provider == "ollama" and result.text == "Prima frase. Seconda frase."
    assert len(seen) < len(ollama_server.reply) // 4  # not every chunk was read
    [req] = ollama_server.requests
    assert req["stream"] is True and req["options"]["num_predict"] == 40
    assert await ollama_server.hung_up()  # the rest is never generated for us
    assert ollama_server.completed == 0


async def test_stream_text_rejected_or_incomplete_gives_no_text(ollama_server):
    ollama_server.reply = "Risposta inventata."

    def reject(text: str, final: bool) -> TextVerdict:
        return TextVerdict.reject("invented") if final else TextVerdict.more()

    def undecided(text: str, final: bool) -> TextVerdict:
        return TextVerdict.more()

    chain = chain_for(ollama_server.url, budget=5)
    try:
        rejected = await chain.stream_text(ANSWER_MESSAGES, reject)
        incomplete = await chain.stream_text(ANSWER_MESSAGES, undecided)
    finally:
        await chain.aclose()
    assert (rejected.provider, rejected.text) == ("rules", "")
    assert rejected.fallbacks == ["ollama: rejected: invented"]
    assert incomplete.fallbacks == ["ollama: rejected: incomplete answer"]
