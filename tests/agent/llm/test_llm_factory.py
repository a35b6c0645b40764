from __future__ import annotations

import pytest

from agent.llm.base import LLMError
from agent.llm.chain import FallbackChain
from agent.llm.factory import make_llm
from agent.llm.ollama import OllamaProvider
from centralino.config import Config, ConfigError


def test_rules_only_by_default():
    assert make_llm(Config({}, environ={})) is None


def test_ollama_chain_from_config_and_env():
    config = Config(
        {"llm": {"providers": "ollama", "budget_s": 0.3}, "llm_ollama": {"model": "llama3.2"}},
        environ={"CENTRALINO_LLM_OLLAMA__HOST": "http://10.0.0.5:11434"},
    )
    chain = make_llm(config)
    assert isinstance(chain, FallbackChain) and chain.budget_s == 0.3
    [ollama] = chain.providers
    assert isinstance(ollama, OllamaProvider)
    assert ollama.settings.model == "llama3.2"
    assert ollama.settings.host == "http://10.0.0.5:11434"


def test_unknown_provider_is_named():
    with pytest.raises(ConfigError, match="gpt5"):
        make_llm(Config({"llm": {"providers": "ollama, gpt5"}}, environ={}))


def test_missing_gguf_is_a_start_up_error(tmp_path):
    config = Config(
        {
            "llm": {"providers": "llama_cpp"},
            "llm_llama_cpp": {"model_path": str(tmp_path / "missing.gguf")},
        },
        environ={},
    )
    with pytest.raises(LLMError, match=r"missing\.gguf does not exist"):
        make_llm(config)
