"""The FastAGI routing service: routing decisions and protocol robustness.

The full path through the real Asterisk dialplan is covered by
``test_calls.py::test_agi_routing_sets_channel_variables``; here a TCP client
speaks the FastAGI protocol the way Asterisk does (headers, then one
``200 result=1`` per command) to check every answer and the bad inputs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from centralino.db.session import Database
from centralino.tenants.service import TenantService, parse_spec
from pbx.agi.server import RoutingAgi, start_agi_server

# Monday 30 November 2026, 10:00 in Rome.
MONDAY_10 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def tenants(db: Database) -> TenantService:
    service = TenantService(db)
    service.upsert(
        parse_spec({"slug": "demo", "name": "Immobiliare Demo", "numbers": ["+390212345678"]})
    )
    service.upsert(
        parse_spec(
            {
                "slug": "chiusa",
                "name": "Agenzia Chiusa",
                "numbers": ["+390612345678"],
                "holidays": ["2026-11-30"],
            }
        )
    )
    return service


def test_route_decisions(tenants: TenantService) -> None:
    agi = RoutingAgi(tenants, clock=lambda: MONDAY_10)
    demo = agi.route("02 1234 5678")  # national shape from a trunk
    assert demo.known and demo.tenant_slug == "demo" and demo.open
    assert demo.variables() == {
        "CENTRALINO_TENANT_ID": str(demo.tenant_id),
        "CENTRALINO_TENANT": "demo",
        "CENTRALINO_ROUTE": "known",
        "CENTRALINO_HOURS": "open",
    }
    closed = agi.route("+390612345678")
    assert closed.known and not closed.open  # holiday
    assert closed.variables()["CENTRALINO_HOURS"] == "closed"
    unknown = agi.route("+390299999999")
    assert not unknown.known and unknown.variables()["CENTRALINO_ROUTE"] == "unknown"
    assert unknown.variables()["CENTRALINO_TENANT_ID"] == ""
    junk = agi.route("not-a-number")
    assert not junk.known and junk.did == "not-a-number"


@pytest.fixture
async def agi_server(tenants: TenantService) -> AsyncIterator[tuple[RoutingAgi, int]]:
    agi = RoutingAgi(tenants, clock=lambda: MONDAY_10, header_timeout_s=1.0)
    server = await start_agi_server(agi, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield agi, port
    finally:
        server.close()
        await server.wait_closed()


async def _asterisk_side(port: int, headers: str) -> list[str]:
    """Send AGI headers, answer each command with 200 result=1, return the commands."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(headers.encode())
    await writer.drain()
    commands = []
    while True:
        line = await asyncio.wait_for(reader.readline(), 5)
        if not line:
            break
        commands.append(line.decode().rstrip("\n"))
        writer.write(b"200 result=1\n")
        await writer.drain()
    writer.close()
    return commands


AGI_HEADERS = (
    "agi_network: yes\n"
    "agi_network_script: route\n"
    "agi_request: agi://127.0.0.1:4573/route\n"
    "agi_channel: PJSIP/centralino-test-00000001\n"
    "agi_extension: {exten}\n"
    "agi_arg_1: {arg}\n"
    "\n"
)


async def test_fastagi_sets_the_variables(agi_server: tuple[RoutingAgi, int]) -> None:
    agi, port = agi_server
    commands = await _asterisk_side(
        port, AGI_HEADERS.format(exten="+390212345678", arg="+390212345678")
    )
    assert commands[0].startswith('SET VARIABLE CENTRALINO_TENANT_ID "')
    assert commands[1:] == [
        'SET VARIABLE CENTRALINO_TENANT "demo"',
        'SET VARIABLE CENTRALINO_ROUTE "known"',
        'SET VARIABLE CENTRALINO_HOURS "open"',
    ]
    # No argument: falls back to agi_extension.
    commands = await _asterisk_side(port, AGI_HEADERS.format(exten="+390299999999", arg=""))
    assert 'SET VARIABLE CENTRALINO_ROUTE "unknown"' in commands
    assert agi.requests == 2


async def test_fastagi_bad_clients_change_nothing(
    agi_server: tuple[RoutingAgi, int], caplog: pytest.LogCaptureFixture
) -> None:
    agi, port = agi_server
    # 1. Disconnects before the blank line (panoramisk's reader would spin forever).
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"agi_network: yes\nagi_network_script: route\n")
    await writer.drain()
    writer.close()
    # 2. Never finishes its headers: dropped after the header timeout.
    reader, writer2 = await asyncio.open_connection("127.0.0.1", port)
    writer2.write(b"agi_network: yes\n")
    await writer2.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # server closed it
    writer2.close()
    # 3. Unknown script: no commands at all.
    commands = await _asterisk_side(
        port, "agi_network: yes\nagi_network_script: dial-out\nagi_arg_1: +3902\n\n"
    )
    assert commands == []
    await asyncio.sleep(0.1)
    assert agi.requests == 0
    # 4. A real request still works afterwards.
    commands = await _asterisk_side(port, AGI_HEADERS.format(exten="x", arg="+390612345678"))
    assert 'SET VARIABLE CENTRALINO_HOURS "closed"' in commands
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "disconnected before its request" in messages
    assert "no complete request in time" in messages
    assert "unknown script 'dial-out'" in messages
