"""CRM connectors against local servers implementing each CRM's documented REST API.

Salesforce (OAuth2 token endpoint + sObject Lead upsert), HubSpot (CRM v3
contacts/deals), Pipedrive (v1 persons/leads/notes) and our signed webhook are
local aiohttp servers (tests/delivery/fakes.py) that check paths, auth and
required fields and answer with the documented success and error bodies.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from centralino.db.session import Database
from centralino.delivery.dispatcher import Dispatcher
from centralino.delivery.models import Delivery
from centralino.delivery.outbox import DeliveryNotFound, Outbox
from centralino.delivery.settings import DeliverySettings
from centralino.leads.service import LeadService
from centralino.tenants.models import Tenant

from .conftest import Clock, delivery_config
from .fakes import HS_429, HubSpotFake, PipedriveFake, SalesforceFake, SmtpFake, WebhookReceiver
from .helpers import call_result, make_call, make_tenant


async def _once(d: Dispatcher) -> Any:
    async with d:
        return await d.run_once()


def run(db: Database, clock: Clock, environ: dict[str, str] | None = None, cfg: Any = None) -> Any:
    cfg = cfg or delivery_config()
    outbox = Outbox(db, cfg.section("delivery", DeliverySettings), clock=clock, rng=lambda: 0.5)
    return asyncio.run(
        _once(Dispatcher(db, cfg, worker_id="t", outbox=outbox, environ=environ or {}))
    )


def by_channel(db: Database, tenant: int) -> dict[str, Delivery]:
    with db.session() as s:
        return {
            r.channel: r for r in s.scalars(select(Delivery).where(Delivery.tenant_id == tenant))
        }


def sf_target(sf: SalesforceFake, **over: Any) -> dict[str, Any]:
    return {
        "type": "salesforce",
        "login_url": sf.url,
        "client_id": sf.client_id,
        "client_secret_env": "SF_SECRET",
        **over,
    }


def test_salesforce_upsert_token_refresh_and_idempotency(
    db: Database, salesforce: SalesforceFake, clock: Clock
) -> None:
    tenant = make_tenant(db, {"crm": [sf_target(salesforce)]})
    env = {"SF_SECRET": salesforce.client_secret}
    cfg = delivery_config()
    svc = LeadService(db, cfg)
    lead_id = svc.save_from_call(tenant, make_call(db, tenant), call_result())
    outbox = Outbox(db, cfg.section("delivery", DeliverySettings), clock=clock)
    dispatcher = Dispatcher(db, cfg, worker_id="t", outbox=outbox, environ=env)

    async def scenario() -> None:
        async with dispatcher:
            assert (await dispatcher.run_once()).delivered == 1
            # Session expired at Salesforce: one 401, a fresh token, success.
            salesforce.revoke_tokens()
            svc.save_from_call(tenant, make_call(db, tenant), call_result(name="Anna Bianchi"))
            assert (await dispatcher.run_once()).delivered == 1
            # A resend with the same key (as after a crash) updates the same record.
            with db.session() as s:
                s.execute(update(Delivery).values(status="pending"))
            assert (await dispatcher.run_once()).delivered == 2

    asyncio.run(scenario())
    assert len(salesforce.leads) == 2 and salesforce.upserts == 4
    rec = salesforce.leads[salesforce.by_external[f"lead-{lead_id}-crm-salesforce"]]
    assert rec["LastName"] == "Rossi" and rec["FirstName"] == "Mario"
    assert rec["Company"] == "Privato"
    assert "Budget: 400.000 € – 550.000 €" in rec["Description"]
    token_calls = [r for r in salesforce.requests if r.path == "/services/oauth2/token"]
    # One token, reused; one refresh after the 401.
    assert len(token_calls) == 2 and token_calls[0].body["grant_type"] == "client_credentials"
    assert [r.status for r in salesforce.requests if r.method == "PATCH"] == [
        201,
        401,
        201,
        200,
        200,
    ]


def test_salesforce_refresh_token_grant_and_bad_client(
    db: Database, salesforce: SalesforceFake, clock: Clock
) -> None:
    ok = make_tenant(
        db, {"crm": [sf_target(salesforce, grant="refresh_token", refresh_token="5Aep-refresh")]}
    )
    bad = make_tenant(db, {"crm": [sf_target(salesforce, client_secret="nope")]})
    svc = LeadService(db, delivery_config())
    svc.save_from_call(ok, make_call(db, ok), call_result())
    svc.save_from_call(bad, make_call(db, bad), call_result())
    stats = run(db, clock, {"SF_SECRET": salesforce.client_secret})
    assert stats.delivered == 1 and stats.dead == 1
    dead = by_channel(db, bad)["salesforce"]
    assert dead.status == "dead" and dead.last_status == 400
    assert "invalid_client: invalid client credentials" in dead.last_error


def test_hubspot_contact_search_update_and_deal(
    db: Database, hubspot: HubSpotFake, clock: Clock
) -> None:
    tenant = make_tenant(
        db,
        {
            "crm": [
                {
                    "type": "hubspot",
                    "base_url": hubspot.url,
                    "token_env": "HS_TOKEN",
                    "create_deal": True,
                }
            ]
        },
    )
    env = {"HS_TOKEN": hubspot.token}
    svc = LeadService(db, delivery_config())
    svc.save_from_call(tenant, make_call(db, tenant), call_result())
    # Same caller calls again: the contact is found by phone and updated, a second deal is made.
    svc.save_from_call(tenant, make_call(db, tenant), call_result(zone="Navigli"))
    assert run(db, clock, env).delivered == 2
    (contact,) = hubspot.contacts.values()
    assert contact["phone"] == "+393331112222" and contact["lastname"] == "Rossi"
    assert contact["city"] == "Navigli"  # updated by the second lead
    assert len(hubspot.deals) == 2
    assert all(
        d["amount"] == "550000" and d["pipeline"] == "default" for d in hubspot.deals.values()
    )
    paths = [r.path for r in hubspot.requests]
    assert paths.count("/crm/v3/objects/contacts/search") == 2
    assert all(r.headers["Authorization"] == f"Bearer {hubspot.token}" for r in hubspot.requests)


def test_crm_429_retry_after_is_honoured(db: Database, hubspot: HubSpotFake, clock: Clock) -> None:
    tenant = make_tenant(
        db, {"crm": [{"type": "hubspot", "base_url": hubspot.url, "token": hubspot.token}]}
    )
    LeadService(db, delivery_config()).save_from_call(tenant, make_call(db, tenant), call_result())
    hubspot.fail_next(429, HS_429, {"Retry-After": "7"})
    assert run(db, clock).retrying == 1
    row = by_channel(db, tenant)["hubspot"]
    assert row.status == "pending" and row.last_status == 429
    assert "RATE_LIMIT: You have reached your secondly limit." in row.last_error
    # Exactly as told: 7 s, not the 30 s backoff.
    assert row.next_attempt_at == clock.now + timedelta(seconds=7)
    clock.advance(6.9)
    assert run(db, clock).claimed == 0
    clock.advance(0.1)
    assert run(db, clock).delivered == 1


def test_pipedrive_person_lead_note(db: Database, pipedrive: PipedriveFake, clock: Clock) -> None:
    tenant = make_tenant(
        db,
        {
            "crm": [
                {
                    "type": "pipedrive",
                    "base_url": pipedrive.url + "/v1",
                    "api_token": pipedrive.api_token,
                    # A tenant-edited mapping: the zone goes into a custom lead field.
                    "mapping": {
                        "person.name": "name",
                        "person.phone": "phone",
                        "lead.title": "title",
                        "lead.value": "budget",
                        "lead.9f2a1b_zona": "zone",
                        "note.content": "summary",
                    },
                }
            ]
        },
    )
    LeadService(db, delivery_config()).save_from_call(tenant, make_call(db, tenant), call_result())
    assert run(db, clock).delivered == 1
    (person,) = pipedrive.persons.values()
    assert person["phone"] == [{"value": "+393331112222", "primary": True, "label": "work"}]
    (lead_id, lead) = next(iter(pipedrive.leads.items()))
    assert lead["title"] == "Mario Rossi – acquisto trilocale Brera"
    assert lead["value"] == {"amount": 550000, "currency": "EUR"}
    assert lead["9f2a1b_zona"] == "Brera"
    assert (
        pipedrive.notes[0]["lead_id"] == lead_id
        and "Punteggio: 75" in pipedrive.notes[0]["content"]
    )
    assert by_channel(db, tenant)["pipedrive"].external_id == lead_id


def test_bad_credential_dead_letter_others_unaffected(
    db: Database,
    hubspot: HubSpotFake,
    pipedrive: PipedriveFake,
    webhook: WebhookReceiver,
    smtp: SmtpFake,
    clock: Clock,
) -> None:
    settings = {
        "channels": ["email", "webhook"],
        "email": {"recipients": ["agente@agenzia.it"]},
        "webhook": {"url": webhook.url + "/hook", "secret": webhook.secret},
        "crm": [
            {"type": "hubspot", "base_url": hubspot.url, "token": "pat-revoked"},
            {
                "type": "pipedrive",
                "base_url": pipedrive.url + "/v1",
                "api_token": pipedrive.api_token,
            },
        ],
    }
    tenant = make_tenant(db, settings)
    other = make_tenant(db, {"channels": ["email"], "email": {"recipients": ["altro@agenzia.it"]}})
    cfg = delivery_config(smtp=smtp)
    LeadService(db, cfg).save_from_call(tenant, make_call(db, tenant), call_result())
    stats = run(db, clock, cfg=cfg)
    assert stats.dead == 1 and stats.delivered == 3
    outbox = Outbox(db)
    (dead,) = outbox.list(tenant, status="dead")
    assert dead.channel == "hubspot" and dead.last_status == 401
    assert "INVALID_AUTHENTICATION: Authentication credentials not found" in dead.last_error
    assert outbox.counts(tenant) == {"pending": 0, "sending": 0, "delivered": 3, "dead": 1}
    assert len(smtp.messages) == 1 and len(webhook.processed) == 1 and len(pipedrive.leads) == 1

    # Tenant isolation: another tenant cannot see or retry it.
    assert outbox.list(other) == []
    with pytest.raises(DeliveryNotFound):
        outbox.retry_now(other, dead.id)

    # The agency fixes the token in the admin and presses "retry now".
    with db.session() as s:
        t = s.get(Tenant, tenant)
        assert t is not None
        new = {
            **settings,
            "crm": [{**settings["crm"][0], "token": hubspot.token}, settings["crm"][1]],
        }
        t.settings = {"delivery": new}
    view = outbox.retry_now(tenant, dead.id)
    assert view.status == "pending" and view.attempts == 0
    assert run(db, clock, cfg=cfg).delivered == 1
    assert outbox.get(tenant, dead.id).status == "delivered"
    assert len(hubspot.contacts) == 1


def test_missing_secret_names_it(db: Database, clock: Clock) -> None:
    tenant = make_tenant(
        db, {"crm": [{"type": "pipedrive", "api_token_env": "PIPEDRIVE_TOKEN_ROSSI"}]}
    )
    LeadService(db, delivery_config()).save_from_call(tenant, None, call_result())
    assert run(db, clock).dead == 1
    row = by_channel(db, tenant)["pipedrive"]
    assert "manca il segreto 'api_token'" in row.last_error
    assert "PIPEDRIVE_TOKEN_ROSSI" in row.last_error


def test_validation_error_from_crm_is_dead_with_provider_message(
    db: Database, salesforce: SalesforceFake, clock: Clock
) -> None:
    # A tenant mapping that drops the required Company field: Salesforce says so.
    target = sf_target(salesforce, mapping={"LastName": "last_name", "Phone": "phone"})
    tenant = make_tenant(db, {"crm": [target]})
    LeadService(db, delivery_config()).save_from_call(tenant, None, call_result())
    assert run(db, clock, {"SF_SECRET": salesforce.client_secret}).dead == 1
    row = by_channel(db, tenant)["salesforce"]
    assert "REQUIRED_FIELD_MISSING: Required fields are missing: [Company]" in row.last_error


def test_crm_webhook_mapping(db: Database, webhook: WebhookReceiver, clock: Clock) -> None:
    tenant = make_tenant(
        db,
        {
            "crm": [
                {
                    "type": "webhook",
                    "url": webhook.url + "/crm",
                    "secret": webhook.secret,
                    "mapping": {"nome": "name", "telefono": "phone", "origine": "=Centralino"},
                }
            ]
        },
    )
    LeadService(db, delivery_config()).save_from_call(tenant, None, call_result())
    assert run(db, clock).delivered == 1
    (body,) = webhook.processed.values()
    assert body["lead"] == {
        "nome": "Mario Rossi",
        "telefono": "+393331112222",
        "origine": "Centralino",
    }


def test_backoff_grows_and_dead_after_budget(
    db: Database, hubspot: HubSpotFake, clock: Clock
) -> None:
    tenant = make_tenant(
        db,
        {
            "max_attempts": 3,
            "crm": [{"type": "hubspot", "base_url": hubspot.url, "token": hubspot.token}],
        },
    )
    LeadService(db, delivery_config()).save_from_call(tenant, None, call_result())
    body = {"status": "error", "message": "internal error", "category": "INTERNAL_ERROR"}
    hubspot.fail_next(500, body, count=3)
    delays = []
    for _ in range(3):
        run(db, clock)
        row = by_channel(db, tenant)["hubspot"]
        if row.status == "pending":
            delays.append((row.next_attempt_at - clock.now).total_seconds())
            clock.advance(delays[-1])
    assert delays == [22.5, 45.0]  # 30 s, 60 s at 75 % jitter
    assert row.status == "dead" and row.attempts == 3 and "internal error" in row.last_error
    # The jitter spreads between 50 % and 100 % of the step.
    o = Outbox(db, DeliverySettings(backoff_base_s=10, backoff_max_s=100), rng=lambda: 0.0)
    assert [o.backoff_s(n) for n in (1, 2, 3, 6)] == [5.0, 10.0, 20.0, 50.0]
