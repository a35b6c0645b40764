"""Fixtures of the speech tests.

``stt``: one real Whisper (the installed model) for the module's tests.

``elevenlabs_server``: a local server implementing ElevenLabs' documented TTS HTTP API.

``POST /v1/text-to-speech/{voice_id}`` and ``.../stream``: JSON body ``text``,
``model_id``, ``voice_settings`` {stability, similarity_boost, ...}; query
``output_format`` (``pcm_16000``, ``ulaw_8000``, ``mp3_44100_128``...); auth with the
``xi-api-key`` header (401 ``{"detail": {"status": "invalid_api_key"}}`` otherwise).
The audio returned is a tone whose length follows the text, in the format asked.
Every request is recorded so tests can check exactly what the client sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from agent.audio import float_to_s16, ulaw_encode
from agent.stt.settings import STTSettings
from agent.stt.whisper import WhisperSTT

KNOWN_MODELS = {"eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_multilingual_v2", "eleven_v3"}
FORMATS = {"pcm_16000": ("pcm", 16000), "pcm_22050": ("pcm", 22050), "pcm_24000": ("pcm", 24000),
           "ulaw_8000": ("ulaw", 8000)}  # fmt: skip


@dataclass
class FakeElevenLabs:
    api_key: str = "test-key-123"
    mode: str = "ok"  # ok | 401 | 500 | slow
    slow_s: float = 10.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/text-to-speech/{voice_id}", self.handle)
        app.router.add_post("/v1/text-to-speech/{voice_id}/stream", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(
            {
                "path": request.path,
                "voice_id": request.match_info["voice_id"],
                "api_key": request.headers.get("xi-api-key"),
                "query": dict(request.query),
                "body": body,
            }
        )
        if request.headers.get("xi-api-key") != self.api_key or self.mode == "401":
            return web.json_response(
                {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}, status=401
            )
        if self.mode == "500":
            return web.json_response({"detail": {"status": "internal_error"}}, status=500)
        if not body.get("text"):
            return web.json_response({"detail": {"status": "invalid_text"}}, status=422)
        if body.get("model_id") not in KNOWN_MODELS:
            return web.json_response({"detail": {"status": "model_not_found"}}, status=400)
        fmt = request.query.get("output_format", "mp3_44100_128")
        if fmt not in FORMATS:
            return web.json_response({"detail": {"status": "unsupported_format"}}, status=422)
        codec, rate = FORMATS[fmt]
        seconds = 0.06 * len(body["text"])
        t = np.arange(int(rate * seconds)) / rate
        pcm = float_to_s16(0.3 * np.sin(2 * np.pi * 220 * t))
        audio = ulaw_encode(pcm) if codec == "ulaw" else pcm
        resp = web.StreamResponse(
            headers={"Content-Type": "audio/basic" if codec == "ulaw" else "audio/pcm"}
        )
        await resp.prepare(request)
        if self.mode == "slow":
            await asyncio.sleep(self.slow_s)
        # Stream in chunks like the real endpoint.
        for i in range(0, len(audio), 4096):
            await resp.write(audio[i : i + 4096])
        await resp.write_eof()
        return resp


@pytest.fixture
async def elevenlabs_server() -> AsyncIterator[FakeElevenLabs]:
    fake = FakeElevenLabs()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture(scope="module")
def stt() -> Iterator[WhisperSTT]:
    engine = WhisperSTT(STTSettings())
    engine.load()
    yield engine
    engine.close()
