"""API keys managed in the admin: shown once, revocable, scoped to the agency, audited."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select

from centralino.accounts.models import AuditEntry
from centralino.apikeys.models import ApiKey

from .conftest import ApiWorld

PASSWORD = "keys-page-password"
_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def _login(client: FlaskClient, email: str) -> str:
    token = _TOKEN.search(client.get("/login").get_data(as_text=True))
    assert token
    r = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert r.status_code == 302
    page = _TOKEN.search(client.get("/api-keys/").get_data(as_text=True))
    return page.group(1) if page else ""


def _key_count(api: ApiWorld) -> int:
    with api.db.session() as s:
        return len(s.scalars(select(ApiKey.id)).all())


def test_create_use_and_revoke_a_key_in_the_admin(api: ApiWorld) -> None:
    accounts = api.services.accounts
    accounts.create_user("capo@alfa.it", "agency_admin", api.alfa, PASSWORD)
    accounts.create_user("capo@beta.it", "agency_admin", api.beta, PASSWORD)
    accounts.create_user("agente@alfa.it", "agent", api.alfa, PASSWORD)
    admin = api.app.test_client()
    csrf = _login(admin, "capo@alfa.it")
    page = admin.get("/api-keys/", headers={"Accept-Language": "it"}).get_data(as_text=True)
    assert "Chiavi API" in page and "dashboard" in page  # the fixture's keys are listed
    # No CSRF token: refused, nothing created.
    count = _key_count(api)
    assert admin.post("/api-keys/create", data={"name": "x"}).status_code == 400
    r = admin.post("/api-keys/create", data={"name": "Gestionale", "write": "1",
                                             "csrf_token": csrf})  # fmt: skip
    assert r.status_code == 200
    secret = re.search(r'id="new-key-secret">([^<]+)<', r.get_data(as_text=True))
    assert secret
    key = secret.group(1)
    headers = {"Authorization": f"Bearer {key}"}
    assert api.client.patch("/api/v1/config", json={"greeting": "Pronto, Alfa."},
                             headers=headers).status_code == 200  # fmt: skip
    # Shown once: the list never contains it again.
    assert key not in admin.get("/api-keys/").get_data(as_text=True)
    with api.db.session() as s:
        row = s.scalar(select(ApiKey).where(ApiKey.name == "Gestionale"))
        assert row is not None and row.key_hash != key and key not in row.prefix
        key_id = row.id
    assert (
        len(api.db.engine.connect().exec_driver_sql("SELECT id FROM api_keys").all()) == count + 1
    )
    # An empty name is explained, nothing created.
    r = admin.post("/api-keys/create", data={"name": " ", "csrf_token": csrf},
                   headers={"Accept-Language": "it"})  # fmt: skip
    assert r.status_code == 400 and "Dai un nome" in r.get_data(as_text=True)

    # Another agency's admin cannot revoke it, an agent cannot even see the page.
    other = api.app.test_client()
    other_csrf = _login(other, "capo@beta.it")
    assert (
        other.post(f"/api-keys/{key_id}/revoke", data={"csrf_token": other_csrf}).status_code == 404
    )
    agent = api.app.test_client()
    _login(agent, "agente@alfa.it")
    assert agent.get("/api-keys/").status_code == 403
    assert api.client.get("/api/v1/config", headers=headers).status_code == 200

    r = admin.post(f"/api-keys/{key_id}/revoke", data={"csrf_token": csrf})
    assert r.status_code == 302
    assert api.client.get("/api/v1/config", headers=headers).status_code == 401
    with api.db.session() as s:
        actions = [a for (a,) in s.execute(
            select(AuditEntry.action).where(AuditEntry.object_type == "api_key"))]  # fmt: skip
    assert sorted(actions) == ["apikey.create", "apikey.revoke"]
