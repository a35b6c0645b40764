"""Fixtures for the pbx tests: a running controller + FastAGI service on the real Asterisk.

``pbx_env`` builds everything the way ``centralino serve`` / ``centralino agi``
do (same settings functions, same classes), only inside the test's event loop,
against the session's real Asterisk instance (``tests/fixtures/asterisk.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from centralino.calls.service import CallStore
from centralino.config import Config
from centralino.db.session import Database
from centralino.tenants.service import TenantService
from pbx.agi.server import RoutingAgi, start_agi_server
from pbx.ari.client import AriClient
from pbx.calls.greeting import greeting_factory
from pbx.controller import Controller
from pbx.settings import ari_settings
from tests.fixtures.asterisk import AsteriskFixture

REPO = Path(__file__).resolve().parents[2]
DEMO_TENANTS = REPO / "centralino" / "tenants" / "demo.toml"
DEMO_DID = "+390212345678"
UNKNOWN_DID = "+390299999999"
WHISPER_MODEL = REPO / "var" / "models" / "whisper-base"


@dataclass
class PbxEnv:
    asterisk: AsteriskFixture
    db: Database
    config: Config
    controller: Controller
    agi: RoutingAgi
    recordings_dir: Path

    @property
    def store(self) -> CallStore:
        return self.controller.store

    async def wait_idle(self, timeout_s: float = 15.0) -> None:
        """Until every call session has finished (rows completed)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.controller.sessions and loop.time() < deadline:
            await asyncio.sleep(0.1)
        assert not self.controller.sessions, "call sessions still running"


def write_caller_wav(path: Path, seconds: float, freq: float = 300.0) -> Path:
    """A voice-band 8 kHz WAV with syllable-like bursts (what a caller sends)."""
    rate = 8000
    t = np.arange(int(seconds * rate)) / rate
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 3.0 * t)
    tone = np.sin(2 * np.pi * freq * t) + 0.5 * np.sin(2 * np.pi * 2.3 * freq * t)
    pcm = (tone * envelope * 8000).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


@pytest.fixture
async def pbx_env(
    asterisk: AsteriskFixture,
    db: Database,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> AsyncIterator[PbxEnv]:
    """Parametrize indirectly with a media transport ("websocket" | "audiosocket") to
    run a test over that transport; default "auto" (websocket on Asterisk 22.10)."""
    from agent.tts.offline import OfflineTTS

    media_transport = getattr(request, "param", "auto")

    caplog.set_level(logging.INFO)
    TenantService(db).load_file(DEMO_TENANTS)
    runtime = tmp_path / "var"
    config = asterisk.config.with_overrides({"paths": {"runtime_dir": str(runtime)}})
    tenants = TenantService(db)
    agi = RoutingAgi(tenants)
    server = await start_agi_server(agi, "127.0.0.1", asterisk.agi_port)
    controller = Controller(
        ari=AriClient(ari_settings(config)),
        store=CallStore(db),
        tenants=tenants,
        conversation_factory=greeting_factory(OfflineTTS(), listen_s=60.0),
        recordings_dir=config.recordings_dir,
        media_transport=media_transport,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(controller.run(stop))
    await asyncio.wait_for(controller.ready.wait(), 15)
    try:
        yield PbxEnv(asterisk, db, config, controller, agi, config.recordings_dir)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        server.close()
        await server.wait_closed()


@pytest.fixture
def whisper_model() -> Path:
    """The Whisper model the voice conversation loads (skipped without it, failed in CI)."""
    if not (WHISPER_MODEL / "model.bin").exists():
        reason = f"no Whisper model in {WHISPER_MODEL} (run scripts/install.sh)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return WHISPER_MODEL


def error_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
