"""A fallback chain of providers with a per-turn time budget.

The chain is itself an :class:`LLMProvider`. It asks each model provider in turn
within what is left of the budget (default 600 ms); the first answer that is
usable (valid JSON matching the schema, when one is given) wins. When none is
usable in time, the rules provider answers: the caller never waits on a slow or
dead model. A provider that is unreachable is skipped for ``cooldown_s`` so a
dead Ollama does not eat the budget of every turn.

:meth:`FallbackChain.stream_text` is the free-text counterpart for answers the
caller will hear: the text is streamed, judged chunk by chunk by the caller's
check (which can stop it early: enough sentences, or an invented fact), and
given back only once accepted within the budget; otherwise the result has no
text and the caller speaks its own rules reply.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from agent.llm.base import (
    LLMError,
    LLMProvider,
    LLMResult,
    LLMTimeout,
    Message,
    TextCheck,
    TextVerdict,
)
from agent.llm.schema import validate

log = logging.getLogger(__name__)


class FallbackChain(LLMProvider):
    name = "chain"

    def __init__(
        self,
        providers: Sequence[LLMProvider],
        rules: LLMProvider,
        *,
        budget_s: float = 0.6,
        cooldown_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if budget_s <= 0:
            raise ValueError("budget_s must be positive")
        self.providers = list(providers)
        self.rules = rules
        self.budget_s = budget_s
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._down_until: dict[str, float] = {}

    def _available(self, provider: LLMProvider) -> bool:
        return self._down_until.get(provider.name, 0.0) <= self._clock()

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> LLMResult:
        async def ask(provider: LLMProvider, remaining: float) -> LLMResult | str:
            # wait_for cancels the request: nothing keeps running past the budget.
            result = await asyncio.wait_for(
                provider.chat(messages, schema=schema, timeout=remaining), remaining
            )
            if schema is not None:
                errors = validate(result.data, schema) if result.data is not None else ["no data"]
                if errors:
                    return f"invalid output: {errors[0]}"
            return result

        started = time.perf_counter()
        result, fallbacks = await self._first_usable(ask, started, timeout)
        if result is not None:
            return result
        if fallbacks:
            log.info("LLM fallback to rules: %s", "; ".join(fallbacks))
        result = await self.rules.chat(messages, schema=schema)
        result.fallbacks = fallbacks
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result

    async def _first_usable(
        self,
        ask: Callable[[LLMProvider, float], Awaitable[LLMResult | str]],
        started: float,
        timeout: float | None,
    ) -> tuple[LLMResult | None, list[str]]:
        """The first usable answer of the available providers, each asked with what is
        left of the budget; ``ask`` returns the result or why it is unusable. Also the
        reasons the earlier providers were passed over."""
        budget = timeout if timeout is not None else self.budget_s
        deadline = started + budget
        fallbacks: list[str] = []
        for provider in self.providers:
            if not self._available(provider):
                fallbacks.append(f"{provider.name}: cooling down after an error")
                continue
            remaining = deadline - time.perf_counter()
            if remaining <= 0.005:
                fallbacks.append(f"{provider.name}: no time left in the turn budget")
                continue
            try:
                outcome = await ask(provider, remaining)
            except (TimeoutError, LLMTimeout):
                fallbacks.append(f"{provider.name}: timeout after {budget * 1000:.0f} ms budget")
                continue
            except LLMError as exc:
                fallbacks.append(f"{provider.name}: {exc}")
                if "unreachable" in str(exc):
                    self._down_until[provider.name] = self._clock() + self.cooldown_s
                continue
            except Exception as exc:  # a provider bug must not break the call
                log.exception("LLM provider %s failed", provider.name)
                fallbacks.append(f"{provider.name}: {type(exc).__name__}: {exc}")
                continue
            if isinstance(outcome, str):
                fallbacks.append(f"{provider.name}: {outcome}")
                continue
            outcome.fallbacks = fallbacks
            outcome.elapsed_ms = (time.perf_counter() - started) * 1000
            return outcome, fallbacks
        return None, fallbacks

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        timeout: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        """Stream from the first provider whose first chunk arrives within the budget."""
        budget = timeout if timeout is not None else self.budget_s
        for provider in self.providers:
            if not self._available(provider):
                continue
            gen = provider.stream(messages, timeout=budget, max_tokens=max_tokens).__aiter__()
            try:
                first = await asyncio.wait_for(gen.__anext__(), budget)
            except (TimeoutError, LLMError, StopAsyncIteration):
                await _close(gen)
                continue
            yield first
            try:
                async for chunk in gen:
                    yield chunk
            except LLMError as exc:
                # Mid-answer failure: what was said stays said; finish with nothing more.
                log.warning("LLM stream from %s broke: %s", provider.name, exc)
            return
        result = await self.rules.chat(messages)
        yield result.text

    async def stream_text(
        self,
        messages: Sequence[Message],
        check: TextCheck,
        *,
        timeout: float | None = None,
        max_tokens: int | None = None,
    ) -> LLMResult:
        """A free-text answer, accepted by ``check``, from the first provider that gives
        one within the budget; ``provider == "rules"`` and empty text when none did.

        The whole answer must arrive in time (not just its first chunk): nothing is
        spoken before ``check`` accepts it, so a model that starts fast and then
        crawls is cut at the deadline like one that never starts. ``check`` sees the
        text after every chunk and may stop the stream early (accept: it has enough;
        reject: an invented fact, the wrong language...). A rejected or late answer
        lets the next provider try with what is left of the budget.
        """

        async def ask(provider: LLMProvider, remaining: float) -> LLMResult | str:
            # The timeout cancels the read and _read_checked closes the stream.
            async with asyncio.timeout(remaining):
                verdict = await _read_checked(provider, messages, check, remaining, max_tokens)
            if verdict.rejected or not verdict.text:
                return f"rejected: {verdict.rejected or 'empty'}"
            return LLMResult(verdict.text, None, provider.name)

        started = time.perf_counter()
        result, fallbacks = await self._first_usable(ask, started, timeout)
        if result is not None:
            return result
        if fallbacks:
            log.info("LLM answer from the rules: %s", "; ".join(fallbacks))
        elapsed = (time.perf_counter() - started) * 1000
        return LLMResult("", None, self.rules.name, elapsed, fallbacks)

    async def aclose(self) -> None:
        for provider in [*self.providers, self.rules]:
            await provider.aclose()


async def _read_checked(
    provider: LLMProvider,
    messages: Sequence[Message],
    check: TextCheck,
    timeout: float,
    max_tokens: int | None,
) -> TextVerdict:
    gen = provider.stream(messages, timeout=timeout, max_tokens=max_tokens).__aiter__()
    text = ""
    try:
        async for chunk in gen:
            text += chunk
            verdict = check(text, False)
            if verdict.done:
                return verdict
        verdict = check(text, True)
        # A check that still wants more at the end has an incomplete answer.
        return verdict if verdict.done else TextVerdict.reject("incomplete answer")
    finally:
        # Stops the generation on the provider's side (Ollama: the HTTP stream closes).
        await _close(gen)


async def _close(gen: AsyncIterator[str]) -> None:
    aclose = getattr(gen, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # closing a broken stream must not raise
            log.debug("closing LLM stream failed", exc_info=True)
