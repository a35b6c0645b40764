"""A rendered Asterisk instance, and throwaway instances on free ports.

Used by the ``centralino asterisk`` commands, by ``check``/``reload`` (which
load a candidate configuration in a throwaway instance before touching the
live one) and by the test fixture.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import secrets
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from centralino.asterisk.process import AsteriskProcess
from centralino.asterisk.render import Rendered, ensure_prompts, prepare_instance, render
from centralino.asterisk.settings import AsteriskSettings, Layout

log = logging.getLogger(__name__)


# Test and validation instances take ports below Linux's ephemeral range
# (32768-60999): a port handed out there could later be taken by an outgoing
# connection and make a restart of the instance fail.
PORT_MIN, PORT_MAX = 20000, 32000


def free_tcp_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports free right now, below the ephemeral range."""
    ports: list[int] = []
    for _ in range(2000):
        port = random.randint(PORT_MIN, PORT_MAX)
        if port not in ports and _tcp_free(port, host) and _tcp_free(port):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError("no free TCP ports found")


def _udp_free(port: int, host: str = "0.0.0.0") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _tcp_free(port: int, host: str = "0.0.0.0") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_sip_port() -> int:
    """A port free for both UDP and TCP (SIP listens on both)."""
    for _ in range(200):
        port = random.randint(PORT_MIN, PORT_MAX)
        if _udp_free(port) and _tcp_free(port):
            return port
    raise RuntimeError("no free SIP port found")


def free_rtp_range(size: int = 200) -> tuple[int, int]:
    """A block of UDP ports below the ephemeral range, sampled free."""
    for _ in range(200):
        start = random.randrange(10000, PORT_MAX - size, 2)
        if all(_udp_free(p) for p in range(start, start + size, 17)):
            return start, start + size
    raise RuntimeError("no free RTP port range found")


def throwaway_settings(base: AsteriskSettings, instance: str) -> AsteriskSettings:
    """``base`` on free loopback ports under another instance name."""
    http_port, ami_port, agi_port = free_tcp_ports(3)
    sip_port = free_sip_port()
    while sip_port in (http_port, ami_port, agi_port):
        sip_port = free_sip_port()
    rtp_start, rtp_end = free_rtp_range(100)
    return dataclasses.replace(
        base,
        instance=instance,
        sip_bind="127.0.0.1",
        sip_port=sip_port,
        http_port=http_port,
        ami_port=ami_port,
        agi_port=agi_port,
        rtp_start=rtp_start,
        rtp_end=rtp_end,
    )


def unique_name(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(4)}"


@dataclass
class Instance:
    """An instance folder plus its process."""

    settings: AsteriskSettings
    layout: Layout
    templates: Path | None = None

    def __post_init__(self) -> None:
        self.process = AsteriskProcess(self.layout)

    def render(self, validation: bool = False) -> Rendered:
        prepare_instance(self.layout)
        prompts = ensure_prompts(self.layout)
        return render(
            self.settings, self.layout, self.templates, prompts=prompts, validation=validation
        )

    def install(self, rendered: Rendered) -> None:
        rendered.write(self.layout.etc)

    def cli(self, command: str, timeout: float = 30.0) -> str:
        return self.process.cli(command, timeout)

    def remove(self) -> None:
        """Stop it and delete its folder (throwaway instances only)."""
        self.process.stop()
        home = self.layout.home
        # Nothing is ever bind-mounted into an instance folder; refuse to follow
        # anything that is not a plain folder of ours.
        if home.is_dir() and not home.is_symlink() and self.layout.instance in home.name:
            shutil.rmtree(home, ignore_errors=True)
