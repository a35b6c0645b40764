"""The inbound dialplan with a real FastAGI server answering on the fixture's AGI port.

The server here is a minimal implementation of the FastAGI protocol (the
product's own server lives in pbx/agi); it checks what Asterisk sends (script
path ``route`` and the DID in E.164) and sets the routing variables.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tests.fixtures.sipp import sipp_call

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]


class FastAGI:
    def __init__(self, port: int, variables: dict[str, str], silent: bool = False) -> None:
        self.variables = variables
        self.silent = silent
        self.requests: list[dict[str, str]] = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()
        self.sock.settimeout(0.5)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn, conn.makefile("rwb") as f:
                headers: dict[str, str] = {}
                while True:
                    line = f.readline().decode().strip()
                    if not line:
                        break
                    key, _, value = line.partition(": ")
                    headers[key] = value
                self.requests.append(headers)
                if self.silent:
                    # Accepts, reads the request, never answers (a hung service).
                    self.stop.wait(30)
                    continue
                for name, value in self.variables.items():
                    f.write(f'SET VARIABLE {name} "{value}"\n'.encode())
                    f.flush()
                    f.readline()  # "200 result=1"

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def agi_server(asterisk) -> Iterator[FastAGI]:
    server = FastAGI(
        asterisk.agi_port,
        {
            "CENTRALINO_TENANT_ID": "7",
            "CENTRALINO_TENANT": "immobiliare-rossi",
            "CENTRALINO_ROUTE": "known",
            "CENTRALINO_HOURS": "closed",
        },
    )
    yield server
    server.close()


def test_agi_route_sets_the_channel_variables(asterisk, agi_server: FastAGI) -> None:
    mark = asterisk.log_mark()
    result = sipp_call(asterisk, "02 1234 5678".replace(" ", ""), audio_seconds=0, hold_ms=2000)
    assert result.ok, result.errors or result.output[-2000:]
    assert agi_server.requests, "Asterisk never called the FastAGI server"
    req = agi_server.requests[-1]
    assert req["agi_network_script"] == "route"
    assert req["agi_arg_1"] == "+390212345678"
    assert req["agi_callerid"] == "+393331234567"
    log = asterisk.log_since(mark)
    assert "Centralino route: agi=SUCCESS tenant=immobiliare-rossi route=known hours=closed" in log
    # Stasis receives the E.164 DID and the dialled number.
    assert 'Stasis("PJSIP/centralino-test-' in log
    assert '"centralino,+390212345678,0212345678")' in log


def test_hung_routing_service_does_not_block_the_call(asterisk) -> None:
    """A FastAGI server that accepts but never answers: the call goes on after agi_timeout."""
    server = FastAGI(asterisk.agi_port, {}, silent=True)
    try:
        mark = asterisk.log_mark()
        result = sipp_call(asterisk, "0287654321", audio_seconds=0, hold_ms=6000, timeout=60)
        assert result.ok, result.errors or result.output[-2000:]
        assert server.requests, "Asterisk never called the FastAGI server"
    finally:
        server.close()
    log = asterisk.log_since(mark)
    assert "routing service did not answer within" in log
    assert "Centralino route: agi=TIMEOUT tenant= route=unknown hours=open" in log
    assert "Playing '" in log  # the fallback message: no dead air
