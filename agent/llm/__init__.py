"""LLM providers: ollama (production), llama_cpp (optional, embedded GGUF), rules (always last)."""

from agent.llm.base import LLMError, LLMInvalidOutput, LLMProvider, LLMResult, LLMTimeout, Message
from agent.llm.chain import FallbackChain
from agent.llm.rules import RulesProvider

__all__ = [
    "FallbackChain",
    "LLMError",
    "LLMInvalidOutput",
    "LLMProvider",
    "LLMResult",
    "LLMTimeout",
    "Message",
    "RulesProvider",
]
