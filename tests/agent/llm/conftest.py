"""A local server that speaks Ollama's documented HTTP API, for the provider tests.

No Ollama server can be installed here, so this aiohttp app implements the parts
we use, following https://github.com/ollama/ollama/blob/main/docs/api.md:
``POST /api/chat`` (streaming NDJSON chunks ending with ``"done": true``, or one
JSON object with ``"stream": false``) and ``GET /api/tags``. It records every
request body so tests can check what the client really sent, and can be told to
misbehave: sleep, stream slowly, answer invalid JSON, 404 an unknown model, 500.
It notices a client that hangs up while it is still "generating" (``disconnected``),
which is how the tests know the client stopped waiting rather than the server
finishing.
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
    # The answer to requests with a ``format`` (structured outputs, the extraction);
    # None: ``reply``. Lets a test give the extraction and a free-text answer their own.
    structured_reply: str | None = None
    delay_s: float = 0.0  # sleep before answering (a model too slow for the turn)
    chunk_delay_s: float = 0.0  # sleep between streamed chunks (a model that crawls)
    status: int = 200  # 500 to simulate a server error
    requests: list[dict[str, Any]] = field(default_factory=list)
    cancelled: int = 0  # requests whose client went away while we were sleeping
    disconnected: int = 0  # requests the client hung up on before the answer was complete
    completed: int = 0  # requests answered to the end
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
            if self.delay_s and not await self._sleep(request, self.delay_s):
                self.disconnected += 1
                return web.Response(status=499)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        reply = self.reply
        if body.get("format") and self.structured_reply is not None:
            reply = self.structured_reply
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
            self.completed += 1
            return web.json_response({**final, "message": {"role": "assistant", "content": reply}})
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        try:
            for i in range(0, len(reply), 4):
                chunk = {
                    "model": model,
                    "created_at": self._stamp(),
                    "message": {"role": "assistant", "content": reply[i : i + 4]},
                    "done": False,
                }
                await resp.write((json.dumps(chunk) + "\n").encode())
                if self.chunk_delay_s and not await self._sleep(request, self.chunk_delay_s):
                    self.disconnected += 1
                    return resp
            last = {**final, "message": {"role": "assistant", "content": ""}}
            await resp.write((json.dumps(last) + "\n").encode())
            await resp.write_eof()
        except ConnectionError:
            self.disconnected += 1
            return resp
        self.completed += 1
        return resp

    async def hung_up(self) -> bool:
        """Whether a client hung up on an unfinished answer (waits up to 3 s for the
        server to notice: it polls its socket every 10 ms)."""
        for _ in range(300):
            if self.disconnected:
                return True
            await asyncio.sleep(0.01)
        return False

    @staticmethod
    async def _sleep(request: web.Request, seconds: float) -> bool:
        """Sleep like a busy model; False as soon as the client has hung up."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            transport = request.transport
            if transport is None or transport.is_closing():
                return False
            await asyncio.sleep(min(0.01, max(0.0, end - loop.time())))
        return True

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
