"""SIPp for load: N concurrent calls with audio, and SIPp user agents for tests.

SIPp 3.8 ships in the Asterisk sid root (``sip-tester``); a system ``sipp`` is
used when there is no root. Scenario files in this folder carry ``{{NAME}}``
placeholders rendered into a work folder inside the root (SIPp runs chrooted
and can only read files there), together with the µ-law WAV it streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from centralino.simcaller.audio import load_8k, write_ulaw_wav

SCENARIOS = Path(__file__).resolve().parent
UAC_AUDIO = SCENARIOS / "uac_audio.xml"
DEFAULT_ROOT = "/var/cache/centralino/asterisk-sid"


class SippError(RuntimeError):
    pass


def asterisk_root(root: Path | str | None = None) -> Path:
    """The sid root (``CENTRALINO_ASTERISK_ROOT`` or the installer's default)."""
    return Path(root or os.environ.get("CENTRALINO_ASTERISK_ROOT") or DEFAULT_ROOT)


def sipp_command(root: Path | str | None = None) -> tuple[list[str], Path]:
    """The command prefix that runs SIPp and the root its files must live in."""
    r = asterisk_root(root)
    if (r / "usr/bin/sipp").exists():
        return ["chroot", str(r)], r
    if root is None and shutil.which("sipp"):
        return [], Path("/")
    raise SippError(
        f"SIPp not found: no {r}/usr/bin/sipp and no sipp on PATH (run scripts/install.sh)"
    )


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def workdir(root: Path) -> Iterator[tuple[Path, str]]:
    """A temporary folder inside ``root``: (host path, path seen by SIPp)."""
    base = root / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    host = Path(tempfile.mkdtemp(prefix="centralino-sipp-", dir=base))
    try:
        yield host, "/" + str(host.relative_to(root)) if root != Path("/") else str(host)
    finally:
        shutil.rmtree(host, ignore_errors=True)


def render(src: Path, dest: Path, values: Mapping[str, str]) -> None:
    text = src.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    missing = sorted(set(re.findall(r"\{\{([A-Z_]+)\}\}", text)))
    if missing:
        raise SippError(f"{src}: placeholder(s) {', '.join(missing)} not set")
    dest.write_text(text, encoding="utf-8")


@dataclass
class SippResult:
    calls: int
    answered: int  # 200 OK received for the INVITE
    successful: int  # whole scenario completed
    failed: int
    returncode: int
    elapsed_s: float
    command: list[str] = field(default_factory=list)
    output_tail: str = ""
    errors: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed == 0 and self.successful == self.calls


def _last_row(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    rows = [r for r in csv.reader(path.read_text().splitlines(), delimiter=";") if r]
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def run_sipp(
    server: str,
    port: int,
    did: str,
    *,
    calls: int = 1,
    concurrency: int | None = None,
    rate: float | None = None,
    caller_id: str = "+393331234567",
    audio: Path | str | None = None,
    hold_ms: int = 5000,
    audio_delay_ms: int = 500,
    scenario: Path | str = UAC_AUDIO,
    values: Mapping[str, str] | None = None,
    local_ip: str = "127.0.0.1",
    extra_args: Sequence[str] = (),
    root: Path | str | None = None,
    timeout_s: float = 120.0,
) -> SippResult:
    """Place ``calls`` SIPp calls to ``did`` at ``server:port`` and count the outcome.

    By default all calls start within one second and run concurrently, each
    streaming ``audio`` (any WAV, converted to µ-law) ``audio_delay_ms`` after
    the answer and hanging up ``hold_ms`` after the answer. Blocking: from
    asyncio use :func:`run_sipp_async`.
    """
    prefix, r = sipp_command(root)
    if audio is None:
        from centralino.simcaller.prompts import italian_prompts

        prompts = [p for p in italian_prompts() if p.name == "vm-intro"]
        if not prompts:
            raise SippError("no audio given and no Italian prompt vm-intro to stream")
        audio = prompts[0].wav
    samples = load_8k(audio)
    with workdir(r) as (host_dir, sipp_dir):
        write_ulaw_wav(host_dir / "audio.wav", samples)
        render(
            Path(scenario),
            host_dir / "scenario.xml",
            {
                "AUDIO": f"{sipp_dir}/audio.wav",
                "CALLER": caller_id,
                "HOLD_MS": str(hold_ms),
                "AUDIO_DELAY_MS": str(audio_delay_ms),
                "REST_MS": str(max(0, hold_ms - audio_delay_ms)),
                **dict(values or {}),
            },
        )
        args = [
            f"{server}:{port}",
            "-sf",
            "scenario.xml",
            "-s",
            did,
            "-i",
            local_ip,
            "-mi",
            local_ip,
            "-p",
            str(free_udp_port(local_ip)),
            "-m",
            str(calls),
            "-l",
            str(concurrency or calls),
            "-r",
            str(rate or calls),
            "-nostdin",
            "-trace_stat",
            "-stf",
            "stat.csv",
            "-trace_counts",
            "-trace_err",
            "-timeout",
            f"{int(timeout_s)}s",
            "-timeout_error",
            *extra_args,
        ]
        cmd = [*prefix, "/bin/sh", "-c", f'cd "{sipp_dir}" && exec sipp "$@"', "sipp", *args]
        t0 = time.monotonic()
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s + 30)
        except subprocess.TimeoutExpired as exc:
            raise SippError(f"SIPp did not finish within {timeout_s + 30:.0f} s") from exc
        elapsed = time.monotonic() - t0
        stats = _last_row(host_dir / "stat.csv")
        counts_files = sorted(host_dir.glob("*_counts.csv"))
        counts = _last_row(counts_files[0]) if counts_files else {}
        answered_col = next((k for k in counts if k.endswith("_200_Recv")), None)
        errors = "".join(p.read_text(errors="replace") for p in host_dir.glob("*_errors.log"))
        output = (proc.stdout + proc.stderr).decode(errors="replace")
        if not stats:
            raise SippError(f"SIPp wrote no statistics (exit {proc.returncode}): {output[-2000:]}")
        return SippResult(
            calls=calls,
            answered=_int(counts.get(answered_col)) if answered_col else 0,
            successful=_int(stats.get("SuccessfulCall(C)")),
            failed=_int(stats.get("FailedCall(C)")),
            returncode=proc.returncode,
            elapsed_s=round(elapsed, 3),
            command=cmd,
            output_tail=output[-2000:],
            errors=errors[-4000:],
        )


async def run_sipp_async(*args: object, **kwargs: object) -> SippResult:
    """:func:`run_sipp` in a worker thread (never blocks the event loop)."""
    return await asyncio.to_thread(run_sipp, *args, **kwargs)  # type: ignore[arg-type]


class SippServer:
    """A SIPp user agent server running in the background (tests).

    ``scenario`` is a built-in name (``"uas"``) or an XML file with ``{{...}}``
    placeholders; ``audio`` (a WAV) is rendered as ``{{AUDIO}}`` in µ-law.
    """

    def __init__(
        self,
        scenario: str | Path = "uas",
        *,
        values: Mapping[str, str] | None = None,
        audio: Path | str | None = None,
        calls: int = 1,
        extra_args: Sequence[str] = (),
        host: str = "127.0.0.1",
        root: Path | str | None = None,
    ) -> None:
        self.scenario = scenario
        self.values = dict(values or {})
        self.audio = audio
        self.calls = calls
        self.extra_args = list(extra_args)
        self.host = host
        self.port = 0
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None
        self._workdir: contextlib.ExitStack | None = None
        self.dir: Path | None = None

    def start(self) -> SippServer:
        prefix, r = sipp_command(self.root)
        self._workdir = contextlib.ExitStack()
        host_dir, sipp_dir = self._workdir.enter_context(workdir(r))
        self.dir = host_dir
        if self.audio is not None:
            write_ulaw_wav(host_dir / "audio.wav", load_8k(self.audio))
            self.values.setdefault("AUDIO", f"{sipp_dir}/audio.wav")
        if isinstance(self.scenario, Path) or str(self.scenario).endswith(".xml"):
            render(Path(self.scenario), host_dir / "scenario.xml", self.values)
            scen = ["-sf", "scenario.xml"]
        else:
            scen = ["-sn", str(self.scenario)]
        self.port = free_udp_port(self.host)
        args = [
            *scen,
            "-i",
            self.host,
            "-mi",
            self.host,
            "-p",
            str(self.port),
            "-mp",
            str(free_udp_port(self.host) & ~1),
            "-m",
            str(self.calls),
            "-nostdin",
            "-trace_err",
            *self.extra_args,
        ]
        cmd = [*prefix, "/bin/sh", "-c", f'cd "{sipp_dir}" && exec sipp "$@"', "sipp", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(0.3)  # let it bind before the first INVITE
        if self.proc.poll() is not None:
            out = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
            raise SippError(f"SIPp UAS exited at once ({self.proc.returncode}): {out[-2000:]}")
        return self

    def wait(self, timeout: float = 30.0) -> tuple[int, str]:
        """Wait for SIPp to finish its calls: (exit code, output)."""
        assert self.proc is not None
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            out = b""
        return self.proc.returncode, (out or b"").decode(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._workdir is not None:
            self._workdir.close()
            self._workdir = None

    def __enter__(self) -> SippServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
