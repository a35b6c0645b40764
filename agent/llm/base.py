"""LLM provider interface.

A provider answers a chat (``[{"role": "system"|"user"|"assistant", "content": str}]``),
optionally constrained to a JSON schema (then :attr:`LLMResult.data` holds the
parsed object). Every call has a timeout: a phone caller must never wait on a
model, so providers raise :class:`LLMTimeout` instead of hanging and the
:class:`agent.llm.chain.FallbackChain` answers with the rules in time.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable, Sequence
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


@dataclass(frozen=True)
class TextVerdict:
    """What the caller of :meth:`agent.llm.chain.FallbackChain.stream_text` says about
    the text streamed so far: keep reading, stop and use ``text``, or stop and reject."""

    done: bool
    text: str = ""
    rejected: str = ""  # why the text is unusable (the rules answer instead)

    @classmethod
    def more(cls) -> TextVerdict:
        return cls(False)

    @classmethod
    def accept(cls, text: str) -> TextVerdict:
        return cls(True, text=text)

    @classmethod
    def reject(cls, reason: str) -> TextVerdict:
        return cls(True, rejected=reason or "rejected")


# (text streamed so far, the stream has ended) -> verdict. Must be cheap: it runs per chunk.
TextCheck = Callable[[str, bool], TextVerdict]


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
        self,
        messages: Sequence[Message],
        *,
        timeout: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        """Text chunks as they are generated (at most ``max_tokens`` when the provider
        supports a limit). Default: the whole answer at once."""
        result = await self.chat(messages, timeout=timeout)
        yield result.text

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release connections / models."""
