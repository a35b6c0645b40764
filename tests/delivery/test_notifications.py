"""Notifications end to end: lead -> outbox -> dispatcher -> local provider servers.

WhatsApp Cloud API is a local aiohttp server implementing the documented
``/{version}/{phone-number-id}/messages`` endpoint (checks path, Bearer token,
template fields; answers with Meta's documented success and error bodies). SMTP
is a real aiosmtpd server with STARTTLS and AUTH; the received email is parsed.
Time for retries is a settable clock: we check ``next_attempt_at``, never sleep.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from centralino.db.session import Database
from centralino.delivery.dispatcher import Dispatcher
from centralino.delivery.models import Delivery
from centralino.delivery.outbox import Outbox
from centralino.delivery.settings import DeliverySettings
from centralino.leads.service import LeadService

from .conftest import Clock, delivery_config
from .fakes import WA_500, SmtpFake, WebhookReceiver, WhatsAppFake
from .helpers import call_result, make_call, make_tenant

NOTIFY = {
    "channels": ["whatsapp", "email"],
    "whatsapp": {"recipients": ["+393330000001"]},
    "email": {"recipients": ["agente@agenzia.it", "titolare@agenzia.it"]},
}


def dispatcher(db: Database, config: Any, clock: Clock) -> Dispatcher:
    outbox = Outbox(db, config.section("delivery", DeliverySettings), clock=clock, rng=lambda: 0.5)
    return Dispatcher(db, config, worker_id="test", outbox=outbox, environ={})


def rows(db: Database) -> dict[str, Delivery]:
    with db.session() as s:
        return {r.channel: r for r in s.scalars(select(Delivery).order_by(Delivery.id))}


def test_whatsapp_template_message(
    db: Database, whatsapp: WhatsAppFake, smtp: SmtpFake, clock: Clock
) -> None:
    cfg = delivery_config(whatsapp=whatsapp, smtp=smtp)
    tenant = make_tenant(db, NOTIFY)
    call = make_call(db, tenant)
    LeadService(db, cfg).save_from_call(tenant, call, call_result())

    stats = asyncio.run(_once(dispatcher(db, cfg, clock)))
    assert stats.delivered == 1
    wa = rows(db)["whatsapp"]
    assert wa.status == "delivered" and wa.external_id.startswith("wamid.")
    (msg,) = whatsapp.messages
    assert msg["to"] == "393330000001"
    assert msg["template"]["language"]["code"] == "it"
    params = [p["text"] for p in msg["template"]["components"][0]["parameters"]]
    assert params[0] == "Mario Rossi"
    assert params[4] == "400.000 € – 550.000 €"
    assert params[6] == f"https://admin.example.it/calls/{call}"
    assert smtp.messages == []  # email is only the fallback


async def _once(d: Dispatcher) -> Any:
    async with d:
        return await d.run_once()


def test_whatsapp_500_then_email_arrives(
    db: Database, whatsapp: WhatsAppFake, smtp: SmtpFake, clock: Clock
) -> None:
    cfg = delivery_config(whatsapp=whatsapp, smtp=smtp)
    tenant = make_tenant(db, NOTIFY)
    call = make_call(db, tenant)
    LeadService(db, cfg).save_from_call(tenant, call, call_result())
    whatsapp.fail_next(500, WA_500)

    d = dispatcher(db, cfg, clock)
    first = asyncio.run(_once(d))
    assert first.dead == 1  # WhatsApp row closed, handed over to email
    second = asyncio.run(_once(dispatcher(db, cfg, clock)))
    assert second.delivered == 1

    r = rows(db)
    assert r["whatsapp"].status == "dead"
    assert "(#131000) Something went wrong" in r["whatsapp"].last_error
    assert r["whatsapp"].last_status == 500
    assert r["email"].status == "delivered" and r["email"].fallback_of == r["whatsapp"].id

    (mail,) = smtp.messages
    assert (
        mail["Subject"] == "Nuovo contatto: Mario Rossi – acquisto trilocale Brera (punteggio 75)"
    )
    assert mail["From"] == "Centralino <centralino@agenzia.it>"
    assert sorted(smtp.handler.envelopes[0][1]) == ["agente@agenzia.it", "titolare@agenzia.it"]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Nome: Mario Rossi" in body
    assert "Budget: 400.000 € – 550.000 €" in body
    assert "perché il messaggio WhatsApp non è stato consegnato" in body
    assert f"https://admin.example.it/calls/{call}" in body


def test_smtp_down_for_a_while_then_delivered(db: Database, smtp: SmtpFake, clock: Clock) -> None:
    cfg = delivery_config(smtp=smtp)
    tenant = make_tenant(
        db, {"channels": ["email"], "email": {"recipients": ["agente@agenzia.it"]}}
    )
    LeadService(db, cfg).save_from_call(tenant, make_call(db, tenant), call_result())
    smtp.stop()

    # Three failed attempts while the server is down: 30 s, 60 s, 120 s (jitter fixed at 75 %).
    for attempt, step in enumerate((30, 60, 120), start=1):
        stats = asyncio.run(_once(dispatcher(db, cfg, clock)))
        assert stats.retrying == 1
        row = rows(db)["email"]
        assert row.status == "pending" and row.attempts == attempt
        assert "connessione non riuscita" in row.last_error
        assert row.next_attempt_at == clock.now + timedelta(seconds=step * 0.75)
        clock.advance(step * 0.75 - 1)
        assert asyncio.run(_once(dispatcher(db, cfg, clock))).claimed == 0  # not due yet
        clock.advance(1)

    smtp.start()
    assert asyncio.run(_once(dispatcher(db, cfg, clock))).delivered == 1
    assert rows(db)["email"].status == "delivered"
    assert len(smtp.messages) == 1


def test_smtp_bad_password_is_a_dead_letter(db: Database, smtp: SmtpFake, clock: Clock) -> None:
    cfg = delivery_config(smtp=smtp, extra={"smtp": {"password": "wrong"}})
    tenant = make_tenant(
        db, {"channels": ["email"], "email": {"recipients": ["agente@agenzia.it"]}}
    )
    LeadService(db, cfg).save_from_call(tenant, make_call(db, tenant), call_result())
    assert asyncio.run(_once(dispatcher(db, cfg, clock))).dead == 1
    row = rows(db)["email"]
    assert row.status == "dead" and row.last_status == 535
    assert "535" in row.last_error and "Authentication" in row.last_error


def test_quiet_hours_defer_at_dispatch(db: Database, smtp: SmtpFake, clock: Clock) -> None:
    cfg = delivery_config(smtp=smtp)
    tenant = make_tenant(
        db, {"channels": ["email"], "email": {"recipients": ["agente@agenzia.it"]}}
    )
    LeadService(db, cfg).save_from_call(tenant, make_call(db, tenant), call_result())
    # The agency turns quiet hours on after the lead was queued: the row waits, not dropped.
    from centralino.tenants.models import Tenant

    local = clock.now.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Rome"))
    start = (local - timedelta(minutes=5)).strftime("%H:%M")
    end = (local + timedelta(minutes=30)).strftime("%H:%M")
    with db.session() as s:
        t = s.get(Tenant, tenant)
        assert t is not None
        t.settings = {
            "delivery": {
                **{"channels": ["email"], "email": {"recipients": ["agente@agenzia.it"]}},
                "quiet_hours": {"start": start, "end": end},
            }
        }
    stats = asyncio.run(_once(dispatcher(db, cfg, clock)))
    assert stats.deferred == 1
    row = rows(db)["email"]
    assert row.status == "pending" and row.attempts == 0
    assert timedelta(minutes=29) < row.next_attempt_at - clock.now <= timedelta(minutes=30)
    clock.advance(31 * 60)
    assert asyncio.run(_once(dispatcher(db, cfg, clock))).delivered == 1
    assert len(smtp.messages) == 1


def test_webhook_signed_and_bad_secret_refused(
    db: Database, webhook: WebhookReceiver, clock: Clock
) -> None:
    cfg = delivery_config()
    good = make_tenant(
        db,
        {
            "channels": ["webhook"],
            "webhook": {"url": webhook.url + "/lead", "secret": webhook.secret},
        },
    )
    bad = make_tenant(
        db, {"channels": ["webhook"], "webhook": {"url": webhook.url + "/lead", "secret": "wrong"}}
    )
    svc = LeadService(db, cfg)
    svc.save_from_call(good, make_call(db, good), call_result())
    svc.save_from_call(bad, make_call(db, bad), call_result(name="Anna Bianchi"))
    stats = asyncio.run(_once(dispatcher(db, cfg, clock)))
    assert stats.delivered == 1 and stats.dead == 1
    (body,) = webhook.processed.values()
    assert body["event"] == "lead.created" and body["lead"]["name"] == "Mario Rossi"
    assert body["lead"]["score"] == 75
    outbox = Outbox(db)
    (dead,) = outbox.list(bad, status="dead")
    assert dead.last_status == 401 and "invalid signature" in dead.last_error
