"""Starting and stopping Asterisk instances (real processes in the Asterisk root)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from centralino.asterisk.process import AsteriskError
from tests.fixtures.asterisk import spawn_asterisk

pytestmark = pytest.mark.asterisk


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_stop_waits_for_the_process_and_start_again(tmp_path: Path) -> None:
    with spawn_asterisk(tmp_path) as ast:
        proc = ast.instance.process
        pid = proc.pid()
        assert pid is not None and ast.layout.pid_path.exists()
        with pytest.raises(AsteriskError, match="already running"):
            proc.start()
        proc.stop()
        assert _gone(pid)
        assert proc.pid() is None and not proc.running()
        proc.stop()  # stopping a stopped instance is fine
        with pytest.raises(AsteriskError):
            proc.cli("core show uptime")
        ast.restart()
        assert proc.running() and proc.pid() != pid
        assert "centralino-test" in ast.cli("pjsip show endpoints")


def test_a_hung_asterisk_is_killed_as_last_resort(tmp_path: Path) -> None:
    with spawn_asterisk(tmp_path) as ast:
        proc = ast.instance.process
        pid = proc.pid()
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # frozen: no CLI answer, SIGTERM stays pending
        started = time.monotonic()
        proc.stop(timeout=2)
        assert _gone(pid)
        assert time.monotonic() - started < 60


def test_asterisk_that_cannot_start_is_reported(tmp_path: Path) -> None:
    with spawn_asterisk(tmp_path) as ast:
        proc = ast.instance.process
        proc.stop()
        modules = ast.layout.etc / "modules.conf"
        modules.write_text(modules.read_text() + "require = res_does_not_exist.so\n")
        with pytest.raises(AsteriskError, match="exited with status"):
            proc.start(timeout=30)
        assert not proc.running()
