"""Client editor: saving, bad input (message next to the field, nothing saved), escaping."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from centralino.accounts.models import AuditEntry
from centralino.tenants.models import PhoneNumber, Tenant
from tests.admin.support import World, login

XSS = "<script>alert('xss')</script>"


def _form(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": "nuova",
        "name": "Nuova Casa",
        "active": "1",
        "numbers": "+39 02 5555 1234",
        "greeting": "Buongiorno, Nuova Casa.",
        "prompt_template": "Sei la centralinista di {{ agency }}. Chiedi: {{ questions }}.",
        "q_text": ["Come si chiama?", "Che zona cerca?"],
        "q_key": ["name", "zone"],
        "q_required": ["1", "0"],
        "faq_question": ["parcheggio"],
        "faq_answer": ["Il parcheggio è in via Roma."],
        "zones": "Navigli\nBrera",
        "voice_provider": "offline",
        "voice_stability": "0.5",
        "voice_similarity": "0.75",
        "hours_mon": "09:00-13:00, 14:30-19:00",
        "holidays": "2026-12-25",
        "transfer_number": "+390255550000",
        "timezone": "Europe/Rome",
        "delivery": "",
    }
    data.update(over)
    return data


def _snapshot(world: World) -> tuple[int, int, int, list[str]]:
    with world.db.session() as s:
        return (
            int(s.scalar(select(func.count(Tenant.id))) or 0),
            int(s.scalar(select(func.count(PhoneNumber.id))) or 0),
            int(s.scalar(select(func.count(AuditEntry.id))) or 0),
            [t.name for t in s.scalars(select(Tenant).order_by(Tenant.id))],
        )


def _field_error(body: str, field: str) -> str:
    m = re.search(rf'id="error-{re.escape(field)}"[^>]*>([^<]*)<', body)
    assert m, f"no error shown next to {field}"
    return html.unescape(m.group(1))


@pytest.fixture
def root(world: World) -> tuple[FlaskClient, str]:
    client = world.app.test_client()
    return client, login(client, world.root_email)


@pytest.fixture
def sqlite_root(sqlite_world: World) -> tuple[FlaskClient, str]:
    client = sqlite_world.app.test_client()
    return client, login(client, sqlite_world.root_email)


def test_create_client_with_did_and_questions(world: World, root: tuple[FlaskClient, str]) -> None:
    client, token = root
    r = client.post("/clients/new", data={**_form(), "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    with world.db.session() as s:
        t = s.scalar(select(Tenant).where(Tenant.slug == "nuova"))
        assert t is not None
        assert [n.e164 for n in t.numbers] == ["+390255551234"]
        assert t.questions == [
            {"key": "name", "text": "Come si chiama?", "required": True},
            {"key": "zone", "text": "Che zona cerca?", "required": False},
        ]
        assert t.faq == [{"question": "parcheggio", "answer": "Il parcheggio è in via Roma."}]
        assert t.business_hours["mon"] == [["09:00", "13:00"], ["14:30", "19:00"]]
        assert t.business_hours["sun"] == []
        assert t.holidays == ["2026-12-25"] and t.zones == ["Navigli", "Brera"]
        assert t.voice["provider"] == "offline" and t.voice["stability"] == 0.5
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "tenant.create"))
        assert entry is not None and entry.before is None
        assert entry.after and entry.after["numbers"] == ["+390255551234"]
        assert entry.user_email == world.root_email
    # The new DID now routes to the new agency.
    routed = world.services.tenants.by_did("0255551234")
    assert routed is not None and routed.slug == "nuova"


def test_edit_reorders_questions_and_audits_before_after(world: World) -> None:
    client = world.app.test_client()
    token = login(client, world.a.admin_email)
    page = client.get(f"/clients/{world.a.tenant_id}").get_data(as_text=True)
    assert "Agenzia A" in page
    data = _form(
        slug="ignored",
        name="Agenzia A Rinnovata",
        numbers=world.a.did,
        q_text=["Che zona cerca?", "Come si chiama?"],
        q_key=["zone", "name"],
        q_required=["0", "1"],
    )
    r = client.post(f"/clients/{world.a.tenant_id}", data={**data, "csrf_token": token})
    assert r.status_code == 302
    with world.db.session() as s:
        t = s.get(Tenant, world.a.tenant_id)
        assert t is not None and t.slug == "a"  # the slug never changes on edit
        assert t.name == "Agenzia A Rinnovata"
        assert [q["key"] for q in t.questions] == ["zone", "name"]
        entry = s.scalar(
            select(AuditEntry).where(AuditEntry.action == "tenant.update").order_by(AuditEntry.id)
        )
        assert entry is not None and entry.before and entry.after
        assert entry.before["name"] == "Agenzia A" and entry.after["name"] == "Agenzia A Rinnovata"
        assert entry.user_email == world.a.admin_email
    audit = client.get("/audit/").get_data(as_text=True)
    assert "Agenzia A Rinnovata" in audit and "tenant.update" in audit


def test_agency_admin_cannot_switch_agency_off(world: World) -> None:
    client = world.app.test_client()
    token = login(client, world.a.admin_email)
    data = _form(name="Agenzia A", numbers=world.a.did)
    data.pop("active")
    r = client.post(f"/clients/{world.a.tenant_id}", data={**data, "csrf_token": token})
    assert r.status_code == 302
    with world.db.session() as s:
        t = s.get(Tenant, world.a.tenant_id)
        assert t is not None and t.active


BAD_INPUTS = [
    ("numbers", {"numbers": "02-CIAO"}, "non è un numero di telefono valido"),
    ("numbers", {"numbers": "+390255551234\n02 5555 1234"}, "compare due volte"),
    ("numbers", {"numbers": "+390222222222"}, "già assegnato a un altro cliente"),
    ("prompt_template", {"prompt_template": "Ciao {{ agency "}, "sintassi"),
    ("prompt_template", {"prompt_template": "Ciao {{ pippo }}"}, "pippo"),
    ("prompt_template", {"prompt_template": "x" * 8001}, "Al massimo 8000 caratteri"),
    ("q-1", {"q_text": ["Come si chiama?", "   "]}, "La domanda non può essere vuota"),
    ("q-0", {"q_text": ["x" * 301, "Zona?"]}, "Al massimo 300 caratteri"),
    ("questions", {"q_text": [], "q_key": [], "q_required": []}, "almeno una domanda"),
    ("greeting", {"greeting": "ciao " * 300}, "Al massimo 1000 caratteri"),
    ("name", {"name": ""}, "obbligatorio"),
    ("name", {"name": "N" * 201}, "Al massimo 200 caratteri"),
    ("slug", {"slug": "Con Spazi"}, "lettere minuscole"),
    ("slug", {"slug": "a"}, "già usato"),
    ("transfer_number", {"transfer_number": "chiamami"}, "non è un numero"),
    ("hours_mon", {"hours_mon": "9-13"}, "09:00-13:00"),
    ("hours_mon", {"hours_mon": "13:00-09:00"}, "09:00-13:00"),
    ("holidays", {"holidays": "25/12/2026"}, "non è una data"),
    ("voice_stability", {"voice_stability": "2"}, "tra 0 e 1"),
    ("voice_id", {"voice_provider": "elevenlabs", "voice_id": ""}, "obbligatorio"),
    ("faq-0", {"faq_answer": [""]}, "risposta"),
    ("timezone", {"timezone": "Europe/Nowhere"}, "Fuso orario"),
    ("delivery", {"delivery": "{not json"}, "JSON non valido"),
]


@pytest.mark.parametrize(
    ("field", "override", "message"),
    BAD_INPUTS,
    ids=[f"{f}-{i}" for i, (f, _o, _m) in enumerate(BAD_INPUTS)],
)
def test_bad_input_shows_error_next_to_field_and_saves_nothing(
    sqlite_world: World,
    sqlite_root: tuple[FlaskClient, str],
    field: str,
    override: dict[str, Any],
    message: str,
) -> None:
    """Form validation does not depend on the backend: SQLite only (the DID
    uniqueness against the database is also tested on PostgreSQL below)."""
    world, (client, token) = sqlite_world, sqlite_root
    before = _snapshot(world)
    r = client.post("/clients/new", data={**_form(**override), "csrf_token": token})
    body = r.get_data(as_text=True)
    assert r.status_code == 400
    assert message in _field_error(body, field)
    assert 'id="form-errors"' in body
    assert _snapshot(world) == before
    # What was typed is kept in the form for correction.
    if field == "numbers":
        assert html.escape(override["numbers"].splitlines()[0]) in body


def test_duplicate_did_on_edit_changes_nothing_and_hides_the_owner(world: World) -> None:
    client = world.app.test_client()
    token = login(client, world.a.admin_email)
    before = _snapshot(world)
    data = _form(name="Agenzia A cambiata", numbers=f"{world.a.did}\n{world.b.did}")
    r = client.post(f"/clients/{world.a.tenant_id}", data={**data, "csrf_token": token})
    assert r.status_code == 400
    error = _field_error(r.get_data(as_text=True), "numbers")
    assert world.b.did in error and "Agenzia B" not in error and "'b'" not in error
    assert _snapshot(world) == before


def test_delivery_settings_validated_by_delivery_schema(
    world: World, root: tuple[FlaskClient, str]
) -> None:
    client, token = root
    r = client.post("/clients/new", data={**_form(delivery='{"notify": 42}'), "csrf_token": token})
    assert r.status_code == 400
    assert _field_error(r.get_data(as_text=True), "delivery")
    assert _snapshot(world)[0] == 2


def test_prompt_preview_renders_and_reports_errors(world: World) -> None:
    client = world.app.test_client()
    token = login(client, world.a.admin_email)
    r = client.post("/clients/preview", data={**_form(), "csrf_token": token})
    assert r.status_code == 200
    assert r.json == {
        "text": "Sei la centralinista di Nuova Casa. Chiedi: Come si chiama?; Che zona cerca?.",
        "errors": [],
    }
    r = client.post(
        "/clients/preview",
        data={**_form(prompt_template="{{ agency }} {{ nome_sconosciuto }}"), "csrf_token": token},
    )
    assert r.json is not None and r.json["text"] == ""
    assert "nome_sconosciuto" in r.json["errors"][0]


def test_scripts_in_prompt_and_names_are_escaped(
    world: World, root: tuple[FlaskClient, str]
) -> None:
    client, token = root
    data = _form(
        name=f"Casa {XSS}",
        prompt_template=f"{XSS} {{{{ agency }}}}",
        greeting=XSS,
        q_text=[XSS, "Zona?"],
        faq_answer=[XSS],
    )
    r = client.post("/clients/new", data={**data, "csrf_token": token})
    assert r.status_code == 302
    tid = int(r.headers["Location"].rstrip("/").split("/")[-1])
    for path in (f"/clients/{tid}", "/clients/", "/test-calls/", f"/test-calls/{tid}/chat"):
        body = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in body, path
        assert "&lt;script&gt;alert" in body, path
    preview = client.post("/clients/preview", data={**data, "csrf_token": token}).json
    assert preview is not None and preview["text"].startswith(XSS)  # JSON, shown via textContent
