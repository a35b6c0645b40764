"""A local server that speaks Ollama's documented HTTP API, for the provider tests.

No Ollama server can be installed here, so this aiohttp app implements the parts
we use, following https://github.com/ollama/ollama/blob/main/docs/api.md:
``POST /api/chat`` (streaming NDJSON chunks ending with ``"done": true``, or one
JSON object with ``"stream": false``) and ``GET /api/tags``. It records every
request body so tests can check what the client really sent, and can be told to
misbehave: sleep, answer invalid JSON, 404 an unknown model, 500.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web


@dataclass
class FakeOllama:
    models: list[str] = field(default_factory=lambda: ["qwen2.5:1.5b-instruct"])
    reply: str = "Buongiorno."
    delay_s: float = 0.0  # sleep before answering (a model too slow for the turn)
    status: int = 200  # 500 to simulate a server error
    requests: list[dict[str, Any]] = field(default_factory=list)
    cancelled: int = 0  # requests whose client went away while we were sleeping
    url: str = ""

    def _stamp(self) -> str:
        return datetime.now(UTC).isoformat().replace("+00:00", "Z")

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        model = body.get("model", "")
        if model not in self.models and f"{model}:latest" not in self.models:
            return web.json_response({"error": f"model '{model}' not found"}, status=404)
        if self.status != 200:
            return web.json_response({"error": "internal error"}, status=self.status)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        final = {
            "model": model,
            "created_at": self._stamp(),
            "done": True,
            "done_reason": "stop",
            "total_duration": 1_000_000,
            "load_duration": 100_000,
            "prompt_eval_count": 10,
            "prompt_eval_duration": 100_000,
            "eval_count": 5,
            "eval_duration": 500_000,
        }
        if body.get("stream", True) is False:
            return web.json_response(
                {**final, "message": {"role": "assistant", "content": self.reply}}
            )
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        for i in range(0, len(self.reply), 4):
            chunk = {
                "model": model,
                "created_at": self._stamp(),
                "message": {"role": "assistant", "content": self.reply[i : i + 4]},
                "done": False,
            }
            await resp.write((json.dumps(chunk) + "\n").encode())
        last = {**final, "message": {"role": "assistant", "content": ""}}
        await resp.write((json.dumps(last) + "\n").encode())
        await resp.write_eof()
        return resp

    async def tags(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "models": [
                    {
                        "name": m,
                        "model": m,
                        "modified_at": "2026-01-01T00:00:00Z",
                        "size": 986_000_000,
                        "digest": "0" * 64,
                        "details": {"format": "gguf", "family": "qwen2"},
                    }
                    for m in self.models
                ]
            }
        )


@pytest.fixture
async def ollama_server() -> AsyncIterator[FakeOllama]:
    fake = FakeOllama()
    app = web.Application()
    app.router.add_post("/api/chat", fake.chat)
    app.router.add_get("/api/tags", fake.tags)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()


@pytest.fixture
def free_port() -> int:
    """A local port nobody listens on (for 'Ollama unreachable')."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
