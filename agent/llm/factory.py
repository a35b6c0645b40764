"""Build the process-wide LLM chain from the configuration (once, shared by all calls).

    [llm]
    providers = "ollama"        # in order; "ollama", "llama_cpp"; empty = rules only
    budget_s = 0.6              # per-turn budget before the rules answer
    [llm_ollama]
    host = "http://127.0.0.1:11434"
    model = "qwen2.5:1.5b-instruct"
    [llm_llama_cpp]
    model_path = "/var/lib/centralino/models/model.gguf"

One chain for the process keeps the "this provider is down" memory across calls,
so a dead Ollama costs one failed attempt per cool-down, not one per turn.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.llm.base import LLMProvider
from agent.llm.chain import FallbackChain
from agent.llm.rules import RulesProvider
from centralino.config import Config, ConfigError

KNOWN_PROVIDERS = ("ollama", "llama_cpp")


@dataclass(frozen=True)
class LLMSettings:
    providers: str = ""
    budget_s: float = 0.6
    cooldown_s: float = 10.0


def make_llm(config: Config) -> FallbackChain | None:
    """The configured chain, or None for rules only. Raises on a bad configuration
    (unknown provider, missing model file, llama-cpp-python not installed)."""
    settings = config.section("llm", LLMSettings)
    names = [n.strip() for n in settings.providers.split(",") if n.strip()]
    unknown = [n for n in names if n not in KNOWN_PROVIDERS]
    if unknown:
        raise ConfigError(
            f"unknown LLM provider(s) in llm.providers: {', '.join(unknown)} "
            f"(known: {', '.join(KNOWN_PROVIDERS)})"
        )
    if not names:
        return None
    providers: list[LLMProvider] = []
    for name in names:
        if name == "ollama":
            from agent.llm.ollama import OllamaProvider, OllamaSettings

            providers.append(OllamaProvider(config.section("llm_ollama", OllamaSettings)))
        else:
            from agent.llm.llama_cpp import LlamaCppProvider, LlamaCppSettings

            providers.append(LlamaCppProvider(config.section("llm_llama_cpp", LlamaCppSettings)))
    return FallbackChain(
        providers, RulesProvider(), budget_s=settings.budget_s, cooldown_s=settings.cooldown_s
    )
