"""FastAGI routing service: DID -> tenant and business hours, as channel variables.

It runs as its own process (``centralino agi``) so the dialplan can route calls
even when the ARI controller is down. The inbound dialplan calls
``AGI(agi://HOST:PORT/route,${DID})``; we answer with::

    CENTRALINO_TENANT_ID  tenant id, "" for an unknown number
    CENTRALINO_TENANT     tenant slug, "" for an unknown number
    CENTRALINO_ROUTE      known | unknown
    CENTRALINO_HOURS      open | closed   (the tenant's business hours, holidays, timezone)

Commands go through panoramisk's FastAGI ``Request``; the request headers are read
here with a timeout and an end-of-stream check (panoramisk's own reader spins
forever on a client that disconnects before the blank line).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from panoramisk.fast_agi import Request

from centralino.tenants.phone import InvalidPhoneNumber, normalize_e164
from centralino.tenants.service import TenantService
from pbx.calls.hours import is_open

log = logging.getLogger(__name__)

ROUTE_SCRIPT = "route"
MAX_HEADER_BYTES = 16_384


@dataclass(frozen=True)
class RouteDecision:
    did: str
    tenant_id: int | None = None
    tenant_slug: str = ""
    open: bool = True

    @property
    def known(self) -> bool:
        return self.tenant_id is not None

    def variables(self) -> dict[str, str]:
        return {
            "CENTRALINO_TENANT_ID": "" if self.tenant_id is None else str(self.tenant_id),
            "CENTRALINO_TENANT": self.tenant_slug,
            "CENTRALINO_ROUTE": "known" if self.known else "unknown",
            "CENTRALINO_HOURS": "open" if self.open else "closed",
        }


class RoutingAgi:
    def __init__(
        self,
        tenants: TenantService,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        header_timeout_s: float = 5.0,
    ) -> None:
        self.tenants = tenants
        self.clock = clock
        self.header_timeout_s = header_timeout_s
        self.requests = 0

    def route(self, raw_did: str) -> RouteDecision:
        """Blocking (database): call from a worker thread."""
        try:
            did = normalize_e164(raw_did)
        except InvalidPhoneNumber:
            return RouteDecision(did=raw_did)
        tenant = self.tenants.by_did(did)
        if tenant is None:
            return RouteDecision(did=did)
        return RouteDecision(
            did=did,
            tenant_id=tenant.id,
            tenant_slug=tenant.slug,
            open=is_open(tenant.business_hours, tenant.holidays, tenant.timezone, self.clock()),
        )

    async def _read_headers(self, reader: asyncio.StreamReader) -> dict[str, str] | None:
        headers: dict[str, str] = {}
        total = 0
        while True:
            line = await asyncio.wait_for(reader.readline(), self.header_timeout_s)
            if not line:
                return None  # closed before the end of the headers
            total += len(line)
            if total > MAX_HEADER_BYTES:
                return None
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if not text:
                return headers
            key, sep, value = text.partition(": ")
            if sep:
                headers[key] = value

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            try:
                headers = await self._read_headers(reader)
            except TimeoutError:
                log.warning("FastAGI client %s sent no complete request in time", peer)
                return
            if headers is None:
                log.warning("FastAGI client %s disconnected before its request", peer)
                return
            script = headers.get("agi_network_script", "").split("?")[0].strip("/")
            if script != ROUTE_SCRIPT:
                log.warning("FastAGI request for unknown script %r from %s", script, peer)
                return
            self.requests += 1
            raw_did = headers.get("agi_arg_1") or headers.get("agi_extension", "")
            decision = await asyncio.to_thread(self.route, raw_did)
            request = Request(app=None, headers=headers, reader=reader, writer=writer)
            for name, value in decision.variables().items():
                result = await asyncio.wait_for(
                    request.send_command(f'SET VARIABLE {name} "{_quote(value)}"'),
                    self.header_timeout_s,
                )
                if "error" in result or result.get("status_code") not in (200, None):
                    log.warning("AGI SET VARIABLE %s failed: %s", name, result)
            log.info(
                "route %s (channel %s): tenant=%s hours=%s",
                decision.did,
                headers.get("agi_channel", "?"),
                decision.tenant_slug or "unknown",
                "open" if decision.open else "closed",
            )
        except (ConnectionError, TimeoutError) as exc:
            log.warning("FastAGI connection from %s failed: %r", peer, exc)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


async def start_agi_server(agi: RoutingAgi, host: str, port: int) -> asyncio.Server:
    server = await asyncio.start_server(agi.handle, host, port)
    log.info("FastAGI routing service listening on %s:%d", host, port)
    return server
