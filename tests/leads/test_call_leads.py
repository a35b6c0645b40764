"""Which calls become leads (issue 3): silent or abandoned calls never reach the agents
as leads but stay in the call log; anything the caller said is always stored.

The real dialogue engine makes the call results, the real LeadService stores them on
SQLite and PostgreSQL, and the pbx call session's hang-up path (``CallSession._finish``,
without Asterisk: the ARI is never touched once a call is over) writes the call row and
hands the result to the lead store, as it does at the end of every call.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from agent.dialogue.base import Utterance
from agent.dialogue.factory import make_dialogue
from centralino.calls.models import Call, CallEvent
from centralino.calls.service import CallStart, CallStore
from centralino.db.session import Database
from centralino.delivery.models import Delivery
from centralino.leads.models import Lead
from centralino.leads.service import LeadError, LeadService, has_caller_data
from centralino.tenants.service import TenantService
from pbx.ari.events import StasisStart, parse_event
from pbx.calls.session import CallSession, SessionDeps
from tests.delivery.helpers import make_tenant

DEMO = tomllib.loads(
    (Path(__file__).parents[2] / "centralino" / "tenants" / "demo.toml").read_text("utf-8")
)["tenant"][0]
CALLER = "+393331234567"
EMAIL = {"channels": ["email"], "email": {"recipients": ["agenti@agenzia.it"]}}


async def play(*lines: str, hours: bool = True) -> dict[str, Any]:
    """A call with the demo agency's dialogue; "" is a silence. The caller hangs up
    after the last line (the voice pipeline then takes the result as it is)."""
    tenant = {"name": DEMO["name"], "zones": DEMO["zones"], "faq": DEMO["faq"]}
    dialogue = make_dialogue(tenant, CALLER, hours)
    await dialogue.start()
    for line in lines:
        kind = "speech" if line else "silence"
        await dialogue.handle(Utterance(line, 0.9, kind))
    return dialogue.result()


# --- the dialogue's verdict -------------------------------------------------------------


async def test_a_silent_call_is_abandoned_and_not_a_lead():
    result = await play("", "")
    assert result["outcome"] == "abandoned"
    assert result["lead"]["phone"] == CALLER  # the caller id, for the call log
    assert not has_caller_data(result)


@pytest.mark.parametrize(
    "lines",
    [
        ["Pronto? Pronto?"],  # then the line drops
        ["Pronto?", "Mi sente?", "Pronto?", "Mi sente?"],  # noted as not understood
        ["Scusi, ho sbagliato numero"],
    ],
)
async def test_words_without_any_lead_data_are_not_a_lead(lines):
    result = await play(*lines)
    assert result["outcome"] == "abandoned" and not has_caller_data(result)


async def test_a_caller_who_says_why_they_call_then_drops_is_a_lead():
    # No field the rules can read, but an agent can call back about it (review of
    # 2026-12-05: this was an abandoned call, no lead).
    result = await play("Salve, volevo informazioni su un immobile")
    assert result["outcome"] == "lead" and has_caller_data(result)
    notes = result["lead"]["notes"]
    assert "Richiesta del cliente: Salve, volevo informazioni su un immobile" in notes
    assert "Il cliente ha chiuso la chiamata prima della fine." in notes


async def test_answers_not_understood_are_a_lead():
    # Four turns of speech, none read as a field: the caller's words are in the notes.
    result = await play(
        "Buongiorno", "eh guardi dipende", "mah vedremo più avanti", "lasci stare la fretta"
    )
    assert result["outcome"] == "lead" and has_caller_data(result)
    assert "Risposta non compresa (request_type): lasci stare la fretta" in result["lead"]["notes"]


async def test_a_caller_who_hangs_up_half_way_leaves_a_partial_lead():
    result = await play("Buongiorno, sono Franco Neri, cerco un bilocale in affitto")
    assert result["outcome"] == "lead" and has_caller_data(result)
    lead = result["lead"]
    assert (lead["name"], lead["request_type"], lead["property_type"]) == (
        "Franco Neri",
        "rent",
        "bilocale",
    )
    assert result["missing"][0] == "zone"
    assert "Il cliente ha chiuso la chiamata prima della fine." in lead["notes"]
    assert "Dati mancanti: zona, budget, tempistica, orario per richiamare" in lead["notes"]


@pytest.mark.parametrize(
    "lines",
    [
        ["", "Mi chiamo Anna Riva"],  # silent first, then one field
        ["Mi richiami domani mattina"],  # a call-back time alone
        ["Entro l'estate"],  # a timing alone
        ["Quanto prendete di provvigione?"],  # a question the agent could not answer
    ],
)
async def test_anything_the_caller_gives_is_a_lead(lines):
    result = await play(*lines)
    assert result["outcome"] == "lead" and has_caller_data(result), result["lead"]


async def test_a_message_left_out_of_hours_is_a_lead():
    result = await play(
        "Mi passi un operatore", "Che mi richiamino per la casa di via Padova", hours=False
    )
    assert result["outcome"] == "lead" and "Messaggio:" in result["lead"]["notes"]


@pytest.mark.parametrize(
    "lines",
    [
        ["Quali sono gli orari di apertura?", "Grazie, arrivederci"],
        ["Siete aperti la domenica?"],  # answered, then the caller hangs up
    ],
)
async def test_a_question_answered_from_the_faq_is_a_completed_call_not_a_lead(lines):
    result = await play(*lines)
    assert result["transcript"][2]["text"].startswith("Siamo aperti")
    assert result["outcome"] == "completed" and not has_caller_data(result)


# --- the lead store -------------------------------------------------------------------


def _counts(db: Database) -> tuple[int, int]:
    with db.session() as s:
        return (
            int(s.scalar(select(func.count()).select_from(Lead)) or 0),
            int(s.scalar(select(func.count()).select_from(Delivery)) or 0),
        )


async def test_lead_service_refuses_an_abandoned_call(db: Database):
    tenant = make_tenant(db, EMAIL)
    with pytest.raises(LeadError) as exc:
        LeadService(db).save_from_call(tenant, None, await play("", ""))
    assert exc.value.field == "lead" and "nothing to act on" in str(exc.value)
    assert _counts(db) == (0, 0)


async def test_lead_service_stores_and_delivers_a_partial_lead(db: Database):
    tenant = make_tenant(db, EMAIL)
    result = await play(
        "Buongiorno, sono Franco Neri, cerco un bilocale in affitto all'Isola entro l'estate"
    )
    lead_id = LeadService(db).save_from_call(tenant, None, result)
    with db.session() as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None and lead.name == "Franco Neri" and lead.zone == "Isola"
        assert lead.phone == CALLER and lead.urgency == "medium"
        # The caller's own words for when, for the agent who calls back.
        assert "Tempistica indicata dal cliente: entro l'estate" in lead.notes
        assert "Dati mancanti: budget, orario per richiamare" in lead.notes
    assert _counts(db) == (1, 1)  # queued for the agents


# --- the pbx call session's hang-up path ------------------------------------------------


async def end_call(db: Database, tenant_id: int, result: dict[str, Any], tmp: Path) -> str:
    """What the session does when a call ends: call row completed, lead handed over."""
    store = CallStore(db)
    call_id = store.start(
        CallStart(tenant_id=tenant_id, channel_id="chan-1", caller_id=CALLER, did="+390212345678")
    )
    deps = SessionDeps(
        ari=None,  # type: ignore[arg-type]  # nothing left to say to Asterisk
        http=None,  # type: ignore[arg-type]
        store=store,
        tenants=TenantService(db),
        conversation_factory=lambda ctx: None,  # type: ignore[arg-type,return-value]
        recordings_dir=tmp,
        media_base_url="",
        register_channel=lambda channel_id, session: None,
        unregister_channel=lambda channel_id: None,
        lead_sink=LeadService(db).save_from_call,
    )
    start = parse_event(
        {"type": "StasisStart", "channel": {"id": "chan-1", "caller": {"number": CALLER}}}
    )
    assert isinstance(start, StasisStart)
    session = CallSession(deps, start)
    session.call_id, session.tenant_id = call_id, tenant_id
    # As CallSession._converse does with the conversation's result.
    session.result = result
    session.outcome = session.outcome or result.get("outcome")
    await session._finish()
    return call_id


async def test_an_abandoned_call_stays_in_the_call_log_without_a_lead(db: Database, tmp_path: Path):
    tenant = make_tenant(db, EMAIL)
    call_id = await end_call(db, tenant, await play("", ""), tmp_path)
    with db.session() as s:
        call = s.get(Call, call_id)
        assert call is not None and call.outcome == "abandoned" and call.caller_id == CALLER
        kinds = [e.kind for e in s.scalars(select(CallEvent).where(CallEvent.call_id == call_id))]
        assert "lead_skipped" in kinds and "lead_saved" not in kinds
    assert _counts(db) == (0, 0)  # nothing for WhatsApp/email


async def test_a_call_cut_half_way_still_stores_its_lead(db: Database, tmp_path: Path):
    tenant = make_tenant(db, EMAIL)
    result = await play("Buongiorno, sono Franco Neri, cerco un bilocale in affitto all'Isola")
    call_id = await end_call(db, tenant, result, tmp_path)
    with db.session() as s:
        call = s.get(Call, call_id)
        assert call is not None and call.outcome == "lead"
        lead = s.scalar(select(Lead).where(Lead.call_id == call_id))
        assert lead is not None and lead.name == "Franco Neri"
        kinds = [e.kind for e in s.scalars(select(CallEvent).where(CallEvent.call_id == call_id))]
        assert "lead_saved" in kinds
    assert _counts(db) == (1, 1)


# --- where the agents find it ---------------------------------------------------------


async def test_agents_find_an_abandoned_call_in_the_call_log_not_in_leads(
    sqlite_db: Database, tmp_path: Path
):
    from tests.admin.support import login, make_world

    world = make_world(sqlite_db, tmp_path)
    try:
        call_id = await end_call(sqlite_db, world.a.tenant_id, await play("", ""), tmp_path)
        client = world.app.test_client()
        login(client, world.a.agent_email)
        abandoned = client.get("/calls/?outcome=abandoned").get_data(as_text=True)
        # The caller id to call back, labelled in Italian, linked to the call page.
        assert CALLER in abandoned and "abbandonata" in abandoned and call_id in abandoned
        assert CALLER not in client.get("/calls/?outcome=lead").get_data(as_text=True)
        # Not among today's leads on the dashboard (nor live): nothing to deliver.
        dashboard = client.get("/").get_data(as_text=True)
        assert "Contatti di oggi" in dashboard and CALLER not in dashboard
    finally:
        world.services.close()


def test_the_chat_simulator_labels_the_timing_in_italian(sqlite_db: Database, tmp_path: Path):
    from tests.admin.support import login, make_world

    world = make_world(sqlite_db, tmp_path)
    try:
        client = world.app.test_client()
        token = login(client, world.a.agent_email)
        base = f"/test-calls/{world.a.tenant_id}/chat"
        assert '"timing": "Tempistica"' in client.get(base).get_data(as_text=True)
        headers = {"X-CSRFToken": token}
        start = client.post(base, data={"hours": "open"}, headers=headers).json
        assert start is not None
        r = client.post(
            f"{base}/{start['session']}",
            data={"text": "Cerco un bilocale a Brera entro l'estate"},
            headers=headers,
        )
        assert r.json is not None and r.json["lead"]["timing"] == "entro l'estate"
    finally:
        world.services.close()
