"""Italian by default, English on request; the chat simulator over HTTP."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from sqlalchemy import select

from centralino.calls.models import Call, Turn
from centralino.leads.models import Lead
from tests.admin.support import World, login

ADMIN_DIR = Path(__file__).resolve().parents[2] / "admin_web"
CATALOG = ADMIN_DIR / "translations" / "it" / "LC_MESSAGES"


def test_italian_catalog_is_complete_and_compiled() -> None:
    """Every string in the code and templates has an Italian translation in the .mo."""
    # Same mapping as admin_web/babel.cfg (analytics and the API have their own domains).
    method_map = [
        ("analytics/**", "ignore"),
        ("api/**", "ignore"),
        ("**.py", "python"),
        ("**/templates/**.html", "jinja2"),
    ]
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ADMIN_DIR),
        method_map,
        keywords={"_": None, "_l": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None},
    ):
        found.add(message if isinstance(message, str) else message[0])
    with open(CATALOG / "messages.po", "rb") as f:
        po = read_po(f)
    with open(CATALOG / "messages.mo", "rb") as f:
        mo = read_mo(f)
    translated_po = {m.id if isinstance(m.id, str) else m.id[0] for m in po if m.id and m.string}
    translated_mo = {m.id if isinstance(m.id, str) else m.id[0] for m in mo if m.id and m.string}
    assert not found - translated_po, f"untranslated: {sorted(found - translated_po)}"
    assert not found - translated_mo, "messages.mo is stale: run pybabel compile"
    assert len(found) > 200


def test_italian_by_default_english_on_request(world: World) -> None:
    client = world.app.test_client()
    assert "Accedi" in client.get("/login").get_data(as_text=True)
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Log in" in english.get_data(as_text=True)
    assert "Accedi" in client.get("/login", headers={"Accept-Language": "de-DE"}).get_data(
        as_text=True
    )
    token = login(client, world.a.admin_email)
    # The user's own setting wins over the browser.
    r = client.post("/profile", data={"form": "language", "language": "en", "csrf_token": token})
    assert r.status_code == 302
    body = client.get("/calls/", headers={"Accept-Language": "it-IT"}).get_data(as_text=True)
    assert "Call log" in body and "Registro chiamate" not in body


def test_chat_simulator_runs_the_dialogue_engine(world: World) -> None:
    client = world.app.test_client()
    token = login(client, world.a.agent_email)
    headers = {"X-CSRFToken": token}
    base = f"/test-calls/{world.a.tenant_id}/chat"
    r = client.post(base, data={"hours": "open", "caller": "+393471234567"}, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    start = r.json
    assert start is not None
    assert "Agenzia A" in start["replies"][0]["text"]
    assert start["lead"]["phone"] == "+393471234567"
    url = f"{base}/{start['session']}"
    r = client.post(url, data={"text": "Buongiorno, sono Mario Rossi"}, headers=headers)
    assert r.json is not None and r.json["lead"]["name"] == "Mario Rossi"
    r = client.post(url, data={"text": "vorrei comprare un trilocale"}, headers=headers)
    assert r.json is not None
    assert r.json["lead"]["request_type"] == "buy"
    assert r.json["lead"]["property_type"] == "trilocale"
    # Bad input: empty and over-long text are refused with a message.
    assert client.post(url, data={"text": "  "}, headers=headers).status_code == 400
    assert client.post(url, data={"text": "x" * 501}, headers=headers).status_code == 400
    r = client.post(f"{url}/end", headers=headers)
    assert r.json is not None and r.json["ended"] is True
    assert client.post(url, data={"text": "ancora?"}, headers=headers).status_code == 409
    # Stored as a simulated call with its transcript, and no lead row (no delivery).
    with world.db.session() as s:
        call = s.get(Call, start["call_id"])
        assert call is not None and call.simulated and call.state == "ended"
        texts = [t.text for t in s.scalars(select(Turn).where(Turn.call_id == call.id))]
        assert "Buongiorno, sono Mario Rossi" in texts and len(texts) == 5
        assert s.scalar(select(Lead).where(Lead.call_id == call.id)) is None
    # Test calls do not count in the dashboard statistics.
    body = client.get("/").get_data(as_text=True)
    assert 'id="stat-calls"><span class="value">2<' in body


def test_chat_session_is_bound_to_its_tenant(world: World) -> None:
    client_a = world.app.test_client()
    token_a = login(client_a, world.a.admin_email)
    r = client_a.post(
        f"/test-calls/{world.a.tenant_id}/chat",
        data={"hours": "closed"},
        headers={"X-CSRFToken": token_a},
    )
    assert r.json is not None
    session = r.json["session"]
    client_b = world.app.test_client()
    token_b = login(client_b, world.b.admin_email)
    for tid in (world.a.tenant_id, world.b.tenant_id):
        r = client_b.post(
            f"/test-calls/{tid}/chat/{session}",
            data={"text": "ciao"},
            headers={"X-CSRFToken": token_b},
        )
        assert r.status_code == 404


def test_chat_uses_the_phone_llm_chain(sqlite_world: World) -> None:
    """The simulator gets the same [llm] chain as the phone. Here Ollama is
    configured but nothing listens on its port: the chain falls back to the rules
    within the turn, as on a call, and the reply says which provider answered."""
    from admin_web.app import create_app
    from admin_web.services import build_services
    from agent.llm.chain import FallbackChain

    config = sqlite_world.config.with_overrides(
        {"llm": {"providers": "ollama", "budget_s": 2.0},
         "llm_ollama": {"host": "http://127.0.0.1:9", "timeout_s": 2.0}}
    )  # fmt: skip
    services = build_services(config, sqlite_world.db)
    assert isinstance(services.llm, FallbackChain)
    client = create_app(config, services).test_client()
    token = login(client, sqlite_world.a.agent_email)
    headers = {"X-CSRFToken": token}
    base = f"/test-calls/{sqlite_world.a.tenant_id}/chat"
    start = client.post(base, data={"hours": "open"}, headers=headers).json
    assert start is not None
    r = client.post(f"{base}/{start['session']}", data={"text": "Sono Mario Rossi"},
                    headers=headers)  # fmt: skip
    assert r.status_code == 200 and r.json is not None
    assert r.json["lead"]["name"] == "Mario Rossi"
    assert r.json["replies"][0]["provider"] == "rules"
    services.close()


def test_bad_llm_config_is_shown_and_chat_uses_rules(sqlite_world: World) -> None:
    from admin_web.app import create_app
    from admin_web.services import build_services

    config = sqlite_world.config.with_overrides({"llm": {"providers": "gpt5"}})
    services = build_services(config, sqlite_world.db)
    assert services.llm is None and "gpt5" in services.extra["llm_error"]
    client = create_app(config, services).test_client()
    login(client, sqlite_world.a.agent_email)
    body = client.get(f"/test-calls/{sqlite_world.a.tenant_id}/chat").get_data(as_text=True)
    assert 'id="llm-error"' in body and "gpt5" in body
    services.close()
