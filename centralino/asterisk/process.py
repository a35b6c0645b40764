"""Start, query and stop one Asterisk instance (system or chrooted sid root)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from centralino.asterisk.settings import Layout

log = logging.getLogger(__name__)


class AsteriskError(RuntimeError):
    """Asterisk could not be started, reached or stopped."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own child not yet reaped) is not running.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class AsteriskProcess:
    """One instance. ``cli()`` talks to it through ``asterisk -rx``."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._proc: subprocess.Popen[bytes] | None = None

    # --- state ------------------------------------------------------------------
    def pid(self) -> int | None:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        try:
            pid = int(self.layout.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _alive(pid):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        # The pid file may be stale and the number reused by another program.
        if b"asterisk" not in cmdline or str(self.layout.conf_inner).encode() not in cmdline:
            return None
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    # --- control ----------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> int:
        """Start Asterisk in the background and wait until it is fully booted."""
        self.layout.check_prefix()
        if self.running():
            raise AsteriskError(f"Asterisk instance {self.layout.instance} is already running")
        log_dir = self.layout.home / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.layout.pid_path.unlink(missing_ok=True)
        console = open(self.layout.console_log, "ab")  # noqa: SIM115 - handed to the child
        try:
            self._proc = subprocess.Popen(
                self.layout.command("-f", "-n"),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                # Own session: Ctrl-C in a terminal reaches the controller, which stops
                # Asterisk cleanly, instead of killing Asterisk mid-call.
                start_new_session=True,
            )
        finally:
            console.close()
        log.info("started Asterisk %s (pid %d)", self.layout.instance, self._proc.pid)
        self.wait_ready(timeout)
        return self._proc.pid

    def exec_foreground(self) -> None:
        """Replace this process with Asterisk in the foreground (systemd units)."""
        self.layout.check_prefix()
        argv = self.layout.command("-f", "-n")
        os.execvp(argv[0], argv)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise AsteriskError(
                    f"Asterisk exited with status {self._proc.returncode} while starting;"
                    f" see {self.layout.console_log} and {self.layout.log_path}"
                    f"\n{self._tail()}"
                )
            try:
                out = self.cli(
                    "core waitfullybooted", timeout=max(1.0, deadline - time.monotonic())
                )
                if "fully booted" in out.lower():
                    return
                last = out
            except AsteriskError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise AsteriskError(
            f"Asterisk {self.layout.instance} not ready after {timeout:.0f} s: {last}"
        )

    def cli(self, command: str, timeout: float = 30.0) -> str:
        """Run one CLI command (``asterisk -rx``) and return its output."""
        try:
            res = subprocess.run(
                self.layout.command("-rx", command),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise AsteriskError(f"asterisk -rx {command!r} timed out after {timeout} s") from exc
        if res.returncode != 0 or "Unable to connect to remote asterisk" in res.stdout:
            raise AsteriskError(
                f"asterisk -rx {command!r} failed ({res.returncode}):"
                f" {(res.stdout + res.stderr).strip()[:500]}"
            )
        return res.stdout

    def stop(self, timeout: float = 30.0) -> None:
        """``core stop now``, wait for the process; SIGTERM then SIGKILL as last resort."""
        pid = self.pid()
        if pid is None:
            self._reap()
            return
        try:
            self.cli("core stop now", timeout=min(10.0, timeout))
        except AsteriskError as exc:
            log.warning("core stop now failed: %s", exc)
        if not self._wait_gone(pid, timeout):
            log.warning("Asterisk %s did not stop; sending SIGTERM", self.layout.instance)
            self._signal(pid, signal.SIGTERM)
            if not self._wait_gone(pid, min(10.0, timeout)):
                self._signal(pid, signal.SIGKILL)
                self._wait_gone(pid, 10)
        self._reap()
        log.info("stopped Asterisk %s", self.layout.instance)

    def restart(self, timeout: float = 60.0) -> int:
        self.stop()
        return self.start(timeout)

    # --- helpers ----------------------------------------------------------------
    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.pid == pid:
                if self._proc.poll() is not None:
                    return True
            elif not _alive(pid):
                return True
            time.sleep(0.1)
        return False

    def _signal(self, pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def _reap(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
            self._proc = None

    def _tail(self, lines: int = 20) -> str:
        out = []
        for path in (self.layout.console_log, self.layout.log_path):
            try:
                out.extend(path.read_text(errors="replace").splitlines()[-lines:])
            except OSError:
                continue
        return "\n".join(out)
