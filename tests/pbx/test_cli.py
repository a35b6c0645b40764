"""``centralino serve`` and ``centralino agi`` as real processes against the real Asterisk."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from centralino.calls.models import Call, CallEvent
from centralino.db.session import Database
from centralino.simcaller import place_call
from tests.fixtures.asterisk import AsteriskFixture
from tests.pbx.conftest import DEMO_DID, DEMO_TENANTS

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]

# The installed console script (python -m would load centralino.cli twice).
CENTRALINO = [str(Path(sys.executable).parent / "centralino")]


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, ast: AsteriskFixture, runtime: Path, **asterisk: Any) -> Path:
    values = {k: v for k, v in ast.config.raw("asterisk").items()}
    values.update(asterisk)
    lines = ["[asterisk]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in values.items() if v is not None]
    lines += ["", "[paths]", f"runtime_dir = {toml_value(runtime)}"]
    lines += ["", "[pbx]", 'conversation = "greeting"', "listen_s = 30"]
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENTRALINO_")}
    return subprocess.run(
        [*CENTRALINO, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


class Service:
    def __init__(self, config: Path, *args: str, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CENTRALINO_")}
        self.log = log
        self._out = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [*CENTRALINO, "--config", str(config), *args],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text():
                return
            assert self.proc.poll() is None, self.log.read_text()
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not in log:\n{self.log.read_text()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        finally:
            self._out.close()


@pytest.fixture
def deployed(asterisk: AsteriskFixture, tmp_path: Path) -> Iterator[tuple[Path, Database]]:
    runtime = tmp_path / "var"
    config = write_config(tmp_path / "centralino.toml", asterisk, runtime)
    assert cli(config, "db", "upgrade").returncode == 0
    res = cli(config, "tenants", "load", str(DEMO_TENANTS))
    assert res.returncode == 0, res.stderr
    db = Database(f"sqlite:///{runtime / 'centralino.db'}")
    yield config, db
    db.dispose()


async def test_serve_and_agi_processes_take_a_call_and_stop_cleanly(
    asterisk: AsteriskFixture, deployed: tuple[Path, Database], tmp_path: Path
) -> None:
    config, db = deployed
    agi = Service(config, "agi", log=tmp_path / "agi.log")
    serve = Service(config, "serve", log=tmp_path / "serve.log")
    try:
        await asyncio.to_thread(agi.wait_for, "FastAGI routing on agi://")
        await asyncio.to_thread(serve.wait_for, "ARI events connected")
        report = await place_call(
            DEMO_DID,
            port=asterisk.sip_port,
            script={"utterances": [], "hangup_after_ms": 1500},
            timeout=15,
        )
        assert report.answered and report.heard.non_silent, report.summary()
        await asyncio.to_thread(serve.wait_for, "ended outcome=completed")
    finally:
        assert serve.stop() == 0
        assert agi.stop() == 0
    serve_log = serve.log.read_text()
    assert "controller stopped" in serve_log
    assert " ERROR " not in serve_log and "Traceback" not in serve_log, serve_log
    assert " ERROR " not in agi.log.read_text()
    with db.session() as s:
        call = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
        assert call.outcome == "completed" and call.tenant_id is not None
        route = s.query(CallEvent).filter_by(call_id=call.id, kind="route").one()
        assert route.data["CENTRALINO_ROUTE"] == "known"


async def test_sigterm_mid_call_hands_the_caller_to_the_fallback_and_completes_the_row(
    asterisk: AsteriskFixture, deployed: tuple[Path, Database], tmp_path: Path
) -> None:
    config, db = deployed
    serve = Service(config, "serve", log=tmp_path / "serve.log")
    try:
        await asyncio.to_thread(serve.wait_for, "ARI events connected")
        call = asyncio.create_task(
            place_call(
                DEMO_DID,
                port=asterisk.sip_port,
                script={"utterances": [], "hangup_after_ms": 15000},
                timeout=15,
            )
        )
        await asyncio.to_thread(serve.wait_for, "ringing -> greeting")
        await asyncio.sleep(1.0)
    finally:
        assert serve.stop() == 0
    stopped_at = time.monotonic()
    # The process exited while the caller is still on the line, now in the dialplan's
    # fallback (message + voicemail) until it hangs up by itself.
    report = await call
    assert time.monotonic() - stopped_at > 3
    assert report.answered and report.hangup_by == "caller", report.summary()
    with db.session() as s:
        row = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
        assert row.state == "ended" and row.ended_at is not None
        assert row.outcome == "failed"
        assert row.data["hangup_by"] == "system"
        assert row.hangup_cause == "fallback: controller stopped"
    assert "controller stopped" in serve.log.read_text()


def test_serve_refuses_an_empty_ari_password(asterisk: AsteriskFixture, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", asterisk, tmp_path / "var", ari_password="")
    res = cli(config, "serve", timeout=30)
    assert res.returncode == 2
    assert "asterisk.ari_password" in res.stderr
    assert "CENTRALINO_ASTERISK__ARI_PASSWORD" in res.stderr
    assert not (tmp_path / "var" / "centralino.db").exists()  # nothing was touched


async def test_a_controller_crash_leaves_a_visible_row_and_the_caller_is_rescued(
    asterisk: AsteriskFixture, deployed: tuple[Path, Database], tmp_path: Path
) -> None:
    config, db = deployed
    first = Service(config, "serve", log=tmp_path / "serve1.log")
    await asyncio.to_thread(first.wait_for, "ARI events connected")
    call = asyncio.create_task(
        place_call(
            DEMO_DID,
            port=asterisk.sip_port,
            script={"utterances": [], "hangup_after_ms": 8000},
            timeout=15,
        )
    )
    try:
        await asyncio.to_thread(first.wait_for, "ringing -> greeting")
        await asyncio.sleep(0.5)
        first.proc.kill()  # a crash: no clean-up at all
        first.proc.wait(10)
    finally:
        first.stop()
    with db.session() as s:
        [row] = s.query(Call).all()
        assert row.state in ("greeting", "listening") and row.ended_at is None
        assert row.outcome == "in_progress"
        call_id = row.id
    second = Service(config, "serve", log=tmp_path / "serve2.log")
    try:
        await asyncio.to_thread(second.wait_for, "ARI events connected")
        log_text = second.log.read_text()
        assert "closed 1 call(s) left open by a previous run" in log_text
        # The caller, left in the dead controller's bridge, gets the fallback message
        # (handled right after the events websocket connects: wait for it, don't race).
        await asyncio.to_thread(second.wait_for, "handed orphan call")
    finally:
        assert second.stop() == 0
    report = await call
    assert report.answered and report.hangup_by == "caller", report.summary()
    assert report.heard.segments[-1].end_s > 5.0, report.heard  # not silence to the end
    with db.session() as s:
        closed = s.get(Call, call_id)
        assert closed is not None and closed.state == "ended"
        assert closed.outcome == "failed"
        assert closed.hangup_cause == "controller restarted mid-call"
