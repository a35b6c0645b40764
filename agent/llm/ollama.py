"""Ollama provider (production engine) using the official ``ollama`` Python client.

The office server runs ``ollama serve``; we talk to it with ``AsyncClient``:
streaming chat for free text, ``format=<JSON schema>`` for extraction (Ollama's
structured outputs), ``keep_alive`` so the model stays loaded between calls,
and strict timeouts so a slow model never holds up a turn. Configure it with the
``[llm_ollama]`` section (see :class:`OllamaSettings`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from ollama import AsyncClient, ResponseError

from agent.llm.base import LLMError, LLMProvider, LLMResult, LLMTimeout, Message
from agent.llm.schema import parse_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OllamaSettings:
    host: str = "http://127.0.0.1:11434"
    model: str = "qwen2.5:1.5b-instruct"
    # How long Ollama keeps the model in memory after a request ("30m", "-1" = forever).
    keep_alive: str = "30m"
    # Upper bound for one request; the turn budget of the chain is usually tighter.
    timeout_s: float = 10.0
    temperature: float = 0.0
    num_predict: int = 200
    num_ctx: int = 2048


def _clean(messages: Sequence[Message]) -> list[dict[str, str]]:
    # Our messages may carry bookkeeping keys (e.g. "key"); Ollama gets role/content only.
    return [{"role": m["role"], "content": m["content"]} for m in messages]


class OllamaProvider(LLMProvider):
    name = "ollama"

    def __init__(self, settings: OllamaSettings | None = None, client: Any = None) -> None:
        self.settings = settings or OllamaSettings()
        if self.settings.timeout_s <= 0:
            raise ValueError("OllamaSettings.timeout_s must be positive")
        self._client = client or AsyncClient(
            host=self.settings.host, timeout=httpx.Timeout(self.settings.timeout_s, connect=2.0)
        )

    def _options(self, max_tokens: int | None = None) -> dict[str, Any]:
        s = self.settings
        num_predict = min(max_tokens, s.num_predict) if max_tokens else s.num_predict
        return {"temperature": s.temperature, "num_predict": num_predict, "num_ctx": s.num_ctx}

    def _error(self, exc: BaseException) -> LLMError:
        host, model = self.settings.host, self.settings.model
        if isinstance(exc, LLMError):
            return exc
        if isinstance(exc, TimeoutError | httpx.TimeoutException):
            return LLMTimeout(f"ollama at {host} timed out")
        if isinstance(exc, ConnectionError | httpx.TransportError):
            return LLMError(f"ollama unreachable at {host}: {exc}")
        if isinstance(exc, ResponseError):
            if exc.status_code == 404:
                return LLMError(
                    f"ollama at {host} has no model {model!r}: run `ollama pull {model}`"
                )
            return LLMError(f"ollama error {exc.status_code}: {exc.error}")
        return LLMError(f"ollama failed: {type(exc).__name__}: {exc}")

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> LLMResult:
        limit = min(timeout, self.settings.timeout_s) if timeout else self.settings.timeout_s
        started = time.perf_counter()
        try:
            response = await asyncio.wait_for(
                self._client.chat(
                    model=self.settings.model,
                    messages=_clean(messages),
                    stream=False,
                    format=schema,
                    options=self._options(),
                    keep_alive=self.settings.keep_alive,
                ),
                limit,
            )
        except Exception as exc:
            raise self._error(exc) from exc
        text = response.message.content or ""
        data = parse_json(text, schema) if schema is not None else None
        elapsed = (time.perf_counter() - started) * 1000
        return LLMResult(text, data, self.name, elapsed)

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        timeout: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        """Yield text as Ollama generates it; the whole answer must finish within ``timeout``.

        Closing this generator early (the caller has enough, or its budget ran out)
        closes the HTTP stream, which makes Ollama stop generating for it.
        """
        limit = min(timeout, self.settings.timeout_s) if timeout else self.settings.timeout_s
        deadline = time.perf_counter() + limit
        parts: Any = None
        try:
            parts = await asyncio.wait_for(
                self._client.chat(
                    model=self.settings.model,
                    messages=_clean(messages),
                    stream=True,
                    options=self._options(max_tokens),
                    keep_alive=self.settings.keep_alive,
                ),
                limit,
            )
            iterator = parts.__aiter__()
            while True:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise LLMTimeout(f"ollama at {self.settings.host} timed out mid-answer")
                try:
                    part = await asyncio.wait_for(iterator.__anext__(), remaining)
                except StopAsyncIteration:
                    return
                if part.message and part.message.content:
                    yield part.message.content
                if part.done:
                    return
        except Exception as exc:
            raise self._error(exc) from exc
        finally:
            # The client's stream holds the HTTP response open until it is closed; left to
            # the garbage collector, Ollama would keep generating for nobody.
            close = getattr(parts, "aclose", None)
            if close is not None:
                try:
                    await close()
                except Exception:  # a broken stream must not hide the real outcome
                    log.debug("closing the ollama stream failed", exc_info=True)

    async def models(self) -> list[str]:
        """Model names the server has (``GET /api/tags``)."""
        try:
            listed = await asyncio.wait_for(self._client.list(), self.settings.timeout_s)
        except Exception as exc:
            raise self._error(exc) from exc
        return [m.model or "" for m in listed.models]

    async def check(self) -> None:
        """Start-up check: the server answers and has the configured model."""
        names = await self.models()
        wanted = self.settings.model
        if wanted not in names and f"{wanted}:latest" not in names:
            raise LLMError(
                f"ollama at {self.settings.host} has no model {wanted!r} "
                f"(it has: {', '.join(names) or 'none'}); run `ollama pull {wanted}`"
            )

    async def aclose(self) -> None:
        close = getattr(self._client, "close", None)
        if close is not None:
            await close()
