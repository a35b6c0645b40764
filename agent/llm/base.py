"""LLM provider interface.

A provider answers a chat (``[{"role": "system"|"user"|"assistant", "content": str}]``),
optionally constrained to a JSON schema (then :attr:`LLMResult.data` holds the
parsed object). Every call has a timeout: a phone caller must never wait on a
model, so providers raise :class:`LLMTimeout` instead of hanging and the
:class:`agent.llm.chain.FallbackChain` answers with the rules in time.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, str]


class LLMError(RuntimeError):
    """The provider could not answer (unreachable, bad output, model missing...)."""


class LLMTimeout(LLMError):
    """The provider did not answer within the timeout."""


class LLMInvalidOutput(LLMError):
    """The answer was not valid JSON or did not match the schema."""


@dataclass
class LLMResult:
    text: str
    data: dict[str, Any] | None = None  # parsed JSON when a schema was given
    provider: str = ""
    elapsed_ms: float = 0.0
    # Why the chain fell back to a later provider ("ollama: timeout after 600 ms").
    fallbacks: list[str] = field(default_factory=list)


class LLMProvider(abc.ABC):
    """Base class for LLM providers (ollama, llama_cpp, rules, the fallback chain)."""

    name: str = "llm"

    @abc.abstractmethod
    async def chat(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> LLMResult:
        """One complete answer. Raises :class:`LLMError` (or a subclass) on failure."""

    async def stream(
        self, messages: Sequence[Message], *, timeout: float | None = None
    ) -> AsyncIterator[str]:
        """Text chunks as they are generated. Default: the whole answer at once."""
        result = await self.chat(messages, timeout=timeout)
        yield result.text

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release connections / models."""
