"""OllamaProvider against a local server speaking Ollama's HTTP API (see conftest.py).

The server checks nothing by itself; each test asserts on the request bodies it
recorded, so we know the official client sent what Ollama expects.
"""

from __future__ import annotations

import json

import pytest

from agent.extraction import EXTRACTION_SCHEMA
from agent.llm.base import LLMError, LLMInvalidOutput, LLMTimeout
from agent.llm.ollama import OllamaProvider, OllamaSettings

LEAD = {
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
MESSAGES = [
    {"role": "system", "content": "Sei la centralinista."},
    {"role": "assistant", "content": "Posso sapere il suo nome?", "key": "name"},
    {"role": "user", "content": "Sono Mario Rossi, cerco un trilocale ai Navigli"},
]


def provider(url: str, **kw: object) -> OllamaProvider:
    return OllamaProvider(OllamaSettings(host=url, keep_alive="15m", **kw))  # type: ignore[arg-type]


async def test_chat_with_schema_sends_format_and_parses_json(ollama_server):
    ollama_server.reply = json.dumps(LEAD)
    p = provider(ollama_server.url)
    try:
        result = await p.chat(MESSAGES, schema=EXTRACTION_SCHEMA, timeout=5)
    finally:
        await p.aclose()
    assert result.provider == "ollama"
    assert result.data == LEAD
    [req] = ollama_server.requests
    assert req["model"] == "qwen2.5:1.5b-instruct"
    assert req["stream"] is False
    assert req["format"] == EXTRACTION_SCHEMA
    assert req["keep_alive"] == "15m"
    assert req["options"]["temperature"] == 0.0
    # Bookkeeping keys never reach Ollama: role and content only.
    assert req["messages"] == [{"role": m["role"], "content": m["content"]} for m in MESSAGES]


async def test_stream_yields_chunks_in_order(ollama_server):
    ollama_server.reply = "Certo, la richiamiamo domani. Arrivederci!"
    p = provider(ollama_server.url)
    try:
        chunks = [c async for c in p.stream(MESSAGES, timeout=5)]
    finally:
        await p.aclose()
    assert len(chunks) > 3
    assert "".join(chunks) == ollama_server.reply
    [req] = ollama_server.requests
    assert req["stream"] is True
    assert "format" not in req or req["format"] in (None, "")
    assert req["keep_alive"] == "15m"


async def test_models_and_check(ollama_server):
    p = provider(ollama_server.url)
    try:
        assert await p.models() == ["qwen2.5:1.5b-instruct"]
        await p.check()
    finally:
        await p.aclose()
    missing = provider(ollama_server.url, model="llama3.2")
    try:
        with pytest.raises(LLMError, match=r"no model 'llama3.2'.*ollama pull llama3.2"):
            await missing.check()
    finally:
        await missing.aclose()


async def test_unknown_model_is_a_clear_error(ollama_server):
    p = provider(ollama_server.url, model="llama3.2")
    try:
        with pytest.raises(LLMError, match=r"ollama pull llama3\.2"):
            await p.chat(MESSAGES, timeout=5)
    finally:
        await p.aclose()
    assert ollama_server.requests[0]["model"] == "llama3.2"


async def test_unreachable(free_port):
    p = provider(f"http://127.0.0.1:{free_port}")
    try:
        with pytest.raises(LLMError, match="unreachable"):
            await p.chat(MESSAGES, timeout=5)
    finally:
        await p.aclose()


async def test_server_error(ollama_server):
    ollama_server.status = 500
    p = provider(ollama_server.url)
    try:
        with pytest.raises(LLMError, match="500"):
            await p.chat(MESSAGES, timeout=5)
    finally:
        await p.aclose()


@pytest.mark.parametrize(
    "reply",
    [
        "Certo! Ecco i dati: nome Mario",  # not JSON at all
        '{"name": "Mario Rossi"',  # truncated
        json.dumps({**LEAD, "budget_max": "quattrocentomila"}),  # wrong type
        json.dumps({**LEAD, "request_type": "compra"}),  # not in the enum
        json.dumps([LEAD]),  # not an object
    ],
)
async def test_invalid_output_is_rejected(ollama_server, reply):
    ollama_server.reply = reply
    p = provider(ollama_server.url)
    try:
        with pytest.raises(LLMInvalidOutput):
            await p.chat(MESSAGES, schema=EXTRACTION_SCHEMA, timeout=5)
    finally:
        await p.aclose()


async def test_slow_server_times_out(ollama_server):
    ollama_server.delay_s = 5
    p = provider(ollama_server.url)
    try:
        with pytest.raises(LLMTimeout):
            await p.chat(MESSAGES, timeout=0.2)
        with pytest.raises(LLMTimeout):
            [c async for c in p.stream(MESSAGES, timeout=0.2)]
    finally:
        await p.aclose()
    assert len(ollama_server.requests) == 2


def test_settings_validation():
    with pytest.raises(ValueError, match="timeout_s"):
        OllamaProvider(OllamaSettings(timeout_s=0))
