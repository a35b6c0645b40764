"""Each provider's documented error answers (400/401/429/500; Salesforce's limit is a 403).

The local servers of tests/delivery/fakes.py answer with the providers' documented
error bodies; the row must end retrying (429, 500) or dead (400, 401), always with
the provider's own message and status stored for the admin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from centralino.db.session import Database
from centralino.delivery.dispatcher import Dispatcher
from centralino.delivery.models import Delivery
from centralino.delivery.outbox import Outbox
from centralino.delivery.settings import DeliverySettings
from centralino.leads.service import LeadService

from .conftest import Clock, delivery_config
from .fakes import (
    HS_401,
    HS_429,
    PD_401,
    SF_INVALID_SESSION,
    WA_401,
    WA_429,
    WA_500,
    FakeServer,
    HubSpotFake,
    PipedriveFake,
    SalesforceFake,
    WhatsAppFake,
    wa_error,
)
from .helpers import call_result, make_tenant

WA_400 = wa_error(131008, "(#131008) Required parameter is missing", "Parameter 'to' is missing")
SF_400 = [
    {
        "message": "Required fields are missing: [LastName]",
        "errorCode": "REQUIRED_FIELD_MISSING",
        "fields": ["LastName"],
    }
]
SF_LIMIT = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
SF_500 = [{"message": "An unexpected error occurred.", "errorCode": "UNKNOWN_EXCEPTION"}]
HS_400 = {
    "status": "error",
    "message": "Property values were not valid",
    "correlationId": "c0ffee00-0000-4000-8000-000000000003",
    "category": "VALIDATION_ERROR",
}
HS_500 = {"status": "error", "message": "internal error", "category": "INTERNAL_ERROR"}
PD_400 = {
    "success": False,
    "error": "Name must be given.",
    "error_info": "See developers.pipedrive.com",
}
PD_429 = {"success": False, "error": "Rate limit exceeded", "errorCode": 429}
PD_500 = {"success": False, "error": "Internal server error", "errorCode": 500}

Setup = Callable[[Any], dict[str, Any]]

PROVIDERS: dict[str, tuple[type[FakeServer], Setup, str]] = {
    "whatsapp": (
        WhatsAppFake,
        lambda srv: {"channels": ["whatsapp"], "whatsapp": {"recipients": ["+393330000001"]}},
        "/messages",
    ),
    "salesforce": (
        SalesforceFake,
        lambda srv: {
            "crm": [
                {
                    "type": "salesforce",
                    "login_url": srv.url,
                    "client_id": srv.client_id,
                    "client_secret": srv.client_secret,
                }
            ]
        },
        "/sobjects/Lead",
    ),
    "hubspot": (
        HubSpotFake,
        lambda srv: {"crm": [{"type": "hubspot", "base_url": srv.url, "token": srv.token}]},
        "/crm/v3",
    ),
    "pipedrive": (
        PipedriveFake,
        lambda srv: {
            "crm": [{"type": "pipedrive", "base_url": srv.url + "/v1", "api_token": srv.api_token}]
        },
        "/v1/persons",
    ),
}

# (provider, status, body, headers, expected row status, fragment of last_error)
CASES = [
    ("whatsapp", 400, WA_400, {}, "dead", "(#131008) Required parameter is missing"),
    ("whatsapp", 401, WA_401, {}, "dead", "Error validating access token"),
    ("whatsapp", 429, WA_429, {}, "pending", "(#130429) Rate limit hit"),
    ("whatsapp", 500, WA_500, {}, "pending", "(#131000) Something went wrong"),
    ("salesforce", 400, SF_400, {}, "dead", "REQUIRED_FIELD_MISSING: Required fields are missing"),
    # A 401 after a fresh token (the second 401 in a row) is a credential problem.
    ("salesforce", 401, SF_INVALID_SESSION, {}, "dead", "INVALID_SESSION_ID: Session expired"),
    # Salesforce signals its API limit with 403 REQUEST_LIMIT_EXCEEDED (no 429): retried in 1 h.
    ("salesforce", 403, SF_LIMIT, {}, "pending", "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit"),
    ("salesforce", 500, SF_500, {}, "pending", "UNKNOWN_EXCEPTION: An unexpected error occurred."),
    ("hubspot", 400, HS_400, {}, "dead", "VALIDATION_ERROR: Property values were not valid"),
    ("hubspot", 401, HS_401, {}, "dead", "INVALID_AUTHENTICATION"),
    ("hubspot", 429, HS_429, {}, "pending", "RATE_LIMIT: You have reached your secondly limit."),
    ("hubspot", 500, HS_500, {}, "pending", "INTERNAL_ERROR: internal error"),
    ("pipedrive", 400, PD_400, {}, "dead", "Name must be given."),
    ("pipedrive", 401, PD_401, {}, "dead", "unauthorized access"),
    ("pipedrive", 429, PD_429, {"Retry-After": "2"}, "pending", "Rate limit exceeded"),
    ("pipedrive", 500, PD_500, {}, "pending", "Internal server error"),
]


@pytest.mark.parametrize(
    ("provider", "status", "body", "headers", "expected", "message"),
    CASES,
    ids=[f"{c[0]}-{c[1]}" for c in CASES],
)
def test_documented_error_answers(
    sqlite_db: Database,
    clock: Clock,
    provider: str,
    status: int,
    body: Any,
    headers: dict[str, str],
    expected: str,
    message: str,
) -> None:
    cls, settings, path = PROVIDERS[provider]
    srv = cls().start()
    try:
        count = 2 if (provider, status) == ("salesforce", 401) else 1
        srv.fail_next(status, body, headers, count=count, path=path)
        cfg = delivery_config(whatsapp=srv if isinstance(srv, WhatsAppFake) else None)
        tenant = make_tenant(sqlite_db, settings(srv))
        LeadService(sqlite_db, cfg).save_from_call(tenant, None, call_result())
        outbox = Outbox(
            sqlite_db, cfg.section("delivery", DeliverySettings), clock=clock, rng=lambda: 1.0
        )

        async def once() -> None:
            async with Dispatcher(sqlite_db, cfg, outbox=outbox, environ={}) as d:
                await d.run_once()

        asyncio.run(once())
        with sqlite_db.session() as s:
            row = s.scalar(select(Delivery))
        assert row is not None
        assert row.status == expected
        assert row.last_status == status
        assert message in row.last_error
        if expected == "pending":
            wait = (row.next_attempt_at - clock.now).total_seconds()
            told = 3600 if status == 403 else headers.get("Retry-After", 30)
            assert wait == float(told)  # as told, else the first backoff step
            # Once the provider recovers, the next attempt delivers.
            clock.advance(wait)
            asyncio.run(once())
            with sqlite_db.session() as s:
                row = s.scalar(select(Delivery))
            assert row is not None and row.status == "delivered" and row.attempts == 2
    finally:
        srv.stop()
