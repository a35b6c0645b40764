"""The deterministic provider: rules-based extraction and fixed phrases. Always answers.

It is the last link of every :class:`agent.llm.chain.FallbackChain`, so a turn
always gets a usable answer within microseconds even with no model at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from agent.extraction import LEAD_FIELDS, Extractor
from agent.llm.base import LLMProvider, LLMResult, Message

# What the rules say when asked free text (no schema): never invent facts.
DEFAULT_TEXT = "Un collega la richiamerà al più presto per risponderle."


class RulesProvider(LLMProvider):
    name = "rules"

    def __init__(self, extractor: Extractor | None = None, *, text: str = DEFAULT_TEXT) -> None:
        self.extractor = extractor or Extractor()
        self.text = text

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> LLMResult:
        started = time.perf_counter()
        if schema is None:
            return LLMResult(self.text, None, self.name, (time.perf_counter() - started) * 1000)
        user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        # The question the agent asked last turns bare answers ("Mario Rossi") into fields.
        asked = next(
            (m.get("key", "") for m in reversed(messages) if m.get("role") == "assistant"), ""
        )
        extraction = self.extractor.extract(user, expecting=asked or None)
        props = schema.get("properties", {})
        data: dict[str, Any] = {k: extraction.fields.get(k) for k in props}
        for key in props:
            if key not in LEAD_FIELDS:
                data[key] = None
        elapsed = (time.perf_counter() - started) * 1000
        return LLMResult(json.dumps(data, ensure_ascii=False), data, self.name, elapsed)
