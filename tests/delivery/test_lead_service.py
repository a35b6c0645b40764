"""LeadService.save_from_call: lead + score + outbox rows in one transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from centralino.config import Config
from centralino.db.session import Database
from centralino.delivery.models import Delivery
from centralino.delivery.settings import DeliverySettingsError, parse_tenant_delivery
from centralino.leads.models import Lead
from centralino.leads.service import LeadError, LeadService

from .helpers import call_result, make_call, make_tenant

WA_CONFIG = Config(
    {
        "whatsapp": {"phone_number_id": "1234567890", "access_token": "EAAtest"},
        "delivery": {"admin_base_url": "https://admin.example.it"},
    },
    environ={},
)

DELIVERY = {
    "channels": ["whatsapp", "email", "webhook"],
    "whatsapp": {"recipients": ["+393330000001", "333 000 0002"]},
    "email": {"recipients": ["agente@agenzia.it"]},
    "webhook": {"url": "https://hooks.example.it/lead", "secret": "s3cret"},
    "crm": [{"type": "hubspot", "token": "pat-na1-xyz"}],
}


def test_save_from_call_stores_lead_score_and_outbox(db: Database) -> None:
    tenant = make_tenant(db, DELIVERY)
    call = make_call(db, tenant)
    svc = LeadService(db, WA_CONFIG)
    lead_id = svc.save_from_call(tenant, call, call_result())
    with db.session() as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None
        assert lead.phone == "+393331112222"
        assert lead.budget_max == 550_000
        # 30 (budget > 500k) + 25 ("urgente" said by the caller) + 20 (Brera premium)
        assert lead.score == 75
        assert [r["rule"] for r in lead.score_reasons] == ["budget", "urgency", "premium_zone"]
        assert "Cliente: Cerco un trilocale" in lead.transcript
        rows = s.scalars(
            select(Delivery).where(Delivery.lead_id == lead_id).order_by(Delivery.id)
        ).all()
        # Two WhatsApp recipients (email only as fallback), the webhook, HubSpot.
        assert [(r.channel, r.recipient) for r in rows] == [
            ("whatsapp", "+393330000001"),
            ("whatsapp", "+393330000002"),
            ("webhook", "https://hooks.example.it/lead"),
            ("hubspot", ""),
        ]
        assert all(r.status == "pending" and r.attempts == 0 for r in rows)
        assert rows[0].payload["lead"]["call_link"] == f"https://admin.example.it/calls/{call}"
        assert rows[0].payload["fallback_email"] == ["agente@agenzia.it"]
        assert "token" not in str(rows[3].payload)  # secrets are never copied into the outbox
    # Saving the same call again (pbx retry) returns the same lead and queues nothing new.
    assert svc.save_from_call(tenant, call, call_result()) == lead_id
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Delivery)) == 4


def test_whatsapp_not_configured_queues_email(db: Database) -> None:
    tenant = make_tenant(db, DELIVERY)
    lead_id = LeadService(db, Config({}, environ={})).save_from_call(
        tenant, make_call(db, tenant), call_result()
    )
    with db.session() as s:
        channels = [
            r.channel for r in s.scalars(select(Delivery).where(Delivery.lead_id == lead_id))
        ]
        assert sorted(channels) == ["email", "hubspot", "webhook"]
        email = s.scalar(select(Delivery).where(Delivery.channel == "email"))
        assert email is not None and email.payload["reason"] == "whatsapp_not_configured"


def test_bad_field_values_never_lose_the_lead(db: Database) -> None:
    tenant = make_tenant(db, {"channels": ["email"], "email": {"recipients": ["a@b.it"]}})
    lead_id = LeadService(db).save_from_call(
        tenant, make_call(db, tenant), call_result(budget_max="350k", budget_min=None, zone=["x"])
    )
    with db.session() as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None and lead.budget_max is None
        assert "budget_max='350k'" in lead.notes
        assert s.scalar(select(func.count()).select_from(Delivery)) == 1


def test_structural_errors_write_nothing(db: Database) -> None:
    tenant = make_tenant(db, {"channels": ["email"], "email": {"recipients": ["a@b.it"]}})
    svc = LeadService(db)
    with pytest.raises(LeadError) as exc:
        svc.save_from_call(tenant, None, {"outcome": "lead"})
    assert exc.value.field == "lead"
    with pytest.raises(LeadError) as exc:
        svc.save_from_call(tenant + 1000, None, call_result())
    assert exc.value.field == "tenant_id"
    with pytest.raises(LeadError):
        svc.save_from_call(tenant, None, {"lead": {}, "transcript": 5})
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 0
        assert s.scalar(select(func.count()).select_from(Delivery)) == 0


def test_quiet_hours_defer_notifications_not_crm(db: Database) -> None:
    # 00:00-23:59 is always quiet except one minute; the notification waits for it.
    settings = {
        "channels": ["email"],
        "email": {"recipients": ["a@b.it"]},
        "quiet_hours": {"start": "00:00", "end": "23:59"},
        "crm": [{"type": "pipedrive", "api_token": "x"}],
    }
    tenant = make_tenant(db, settings)
    lead_id = LeadService(db).save_from_call(tenant, None, call_result())
    with db.session() as s:
        rows = {
            r.channel: r for r in s.scalars(select(Delivery).where(Delivery.lead_id == lead_id))
        }
        assert rows["email"].next_attempt_at > rows["pipedrive"].next_attempt_at


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"channels": ["sms"]}, "delivery.channels[0]"),
        ({"channels": ["email"]}, "delivery.email.recipients"),
        (
            {"channels": ["email"], "email": {"recipients": ["nope"]}},
            "delivery.email.recipients[0]",
        ),
        (
            {"channels": ["whatsapp"], "whatsapp": {"recipients": ["12"]}},
            "delivery.whatsapp.recipients[0]",
        ),
        ({"channels": ["webhook"], "webhook": {"url": "ftp://x"}}, "delivery.webhook.url"),
        ({"channels": ["webhook"], "webhook": {"url": "https://x.it"}}, "delivery.webhook.secret"),
        ({"quiet_hours": {"start": "25:00", "end": "08:00"}}, "delivery.quiet_hours.start"),
        ({"crm": [{"type": "zoho"}]}, "delivery.crm[0].type"),
        (
            {"crm": [{"type": "hubspot", "mapping": {"city": "citta"}}]},
            "delivery.crm[0].mapping.city",
        ),
        ({"crm": [{"type": "hubspot", "colour": "red"}]}, "delivery.crm[0].colour"),
        ({"crm": [{"type": "salesforce", "login_url": "nope"}]}, "delivery.crm[0].login_url"),
        ({"crm": [{"type": "hubspot"}, {"type": "hubspot"}]}, "delivery.crm[1].type"),
        ({"max_attempts": 0}, "delivery.max_attempts"),
        ({"colour": 1}, "delivery.colour"),
    ],
)
def test_settings_validation_names_the_field(data: dict, field: str) -> None:
    with pytest.raises(DeliverySettingsError) as exc:
        parse_tenant_delivery(data)
    assert exc.value.field == field
