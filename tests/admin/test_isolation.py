"""Tenant isolation and roles, on SQLite and PostgreSQL.

The route list comes from the app's url_map, so a route added later is
tested automatically; a route with a URL argument this test does not know
fails the test until it is added here.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from tests.admin.support import PASSWORD, World, csrf_token, login

# URL arguments that name tenant-owned objects -> how to pick agency B's object.
ID_ARGS = {
    "tenant_id": lambda w: w.b.tenant_id,
    "call_id": lambda w: w.b.call_id,
    "user_id": lambda w: w.b.agent_user_id,
    "lead_id": lambda w: w.b.lead_id,
    "token": lambda w: "chat-session-of-b",
    "key_id": lambda w: w.b.api_key_id,
    "delivery_id": lambda w: w.b.delivery_id,
}
# URL arguments that are not object ids -> a valid value.
OTHER_ARGS = {"action": "check", "filename": "app.css"}


def _rules(world: World) -> list[Rule]:
    public = world.app.extensions["centralino_public_blueprints"]
    rules = []
    for rule in world.app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        if rule.endpoint.split(".")[0] in public:
            continue  # token-authenticated API: isolated and tested by its own area
        rules.append(rule)
    return rules


def _id_rules(world: World) -> list[Rule]:
    rules = [r for r in _rules(world) if set(r.arguments) & set(ID_ARGS)]
    unknown = {a for r in _rules(world) for a in r.arguments} - set(ID_ARGS) - set(OTHER_ARGS)
    assert not unknown, f"routes with unknown URL arguments {unknown}: add them to ID_ARGS"
    return rules


def _url(world: World, rule: Rule, pick: dict[str, Any]) -> str:
    values: dict[str, Any] = {
        a: pick[a](world) if a in pick else OTHER_ARGS[a] for a in rule.arguments
    }
    with world.app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def _request(client: FlaskClient, method: str, url: str, token: str) -> int:
    if method == "GET":
        return client.get(url).status_code
    return client.open(url, method=method, data={"csrf_token": token, "text": "ciao"}).status_code


def test_every_id_route_returns_404_across_tenants(world: World) -> None:
    client = world.app.test_client()
    token = login(client, world.a.admin_email)
    rules = _id_rules(world)
    assert len(rules) >= 8, [r.rule for r in rules]
    tried = []
    for rule in rules:
        url = _url(world, rule, ID_ARGS)
        if rule.endpoint.startswith("asterisk_admin."):
            continue  # no tenant ids there; role check below
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            status = _request(client, method, url, token)
            assert status == 404, f"{method} {url} ({rule.endpoint}) gave {status}, expected 404"
            tried.append((method, rule.endpoint))
    endpoints = {e for _m, e in tried}
    for expected in (
        "calls.detail",
        "calls.recording",
        "clients.edit",
        "testcalls.chat",
        "testcalls.say",
        "users.set_active",
        "users.reset_password",
    ):
        assert expected in endpoints
    # Nothing of B changed through those POSTs.
    with world.db.session() as s:
        from centralino.accounts.models import User

        agent_b = s.get(User, world.b.agent_user_id)
        assert agent_b is not None and agent_b.active
        from centralino.apikeys.models import ApiKey

        key_b = s.get(ApiKey, world.b.api_key_id)
        assert key_b is not None and key_b.revoked_at is None
        from centralino.delivery.models import Delivery

        delivery_b = s.get(Delivery, world.b.delivery_id)
        assert delivery_b is not None and delivery_b.status == "dead"
    other = world.app.test_client()
    login(other, world.b.agent_email)  # B's agent password was not reset


def test_same_routes_work_for_own_tenant(world: World) -> None:
    """Control: the 404s above come from the tenant scope, not from broken routes."""
    client = world.app.test_client()
    login(client, world.a.admin_email)
    own = {
        "tenant_id": lambda w: w.a.tenant_id,
        "call_id": lambda w: w.a.call_id,
        "user_id": lambda w: w.a.agent_user_id,
        "lead_id": lambda w: w.a.lead_id,
        "token": lambda w: "x",
        "key_id": lambda w: w.a.api_key_id,
        "delivery_id": lambda w: w.a.delivery_id,
    }
    for rule in _id_rules(world):
        if "GET" not in (rule.methods or set()) or "token" in rule.arguments:
            continue
        if rule.endpoint.startswith("asterisk_admin."):
            continue
        url = _url(world, rule, own)
        status = client.get(url).status_code
        assert status == 200, f"GET {url} ({rule.endpoint}) gave {status}"


def test_installation_admin_sees_every_tenant(world: World) -> None:
    client = world.app.test_client()
    login(client, world.root_email)
    for call_id in (world.a.call_id, world.b.call_id):
        assert client.get(f"/calls/{call_id}").status_code == 200
    for tid in (world.a.tenant_id, world.b.tenant_id):
        assert client.get(f"/clients/{tid}").status_code == 200
    html = client.get("/calls/").get_data(as_text=True)
    assert "Rossi" in html and "Bianchi" in html


def test_lists_show_only_own_tenant(world: World) -> None:
    client = world.app.test_client()
    login(client, world.a.agent_email)
    for path in ("/calls/", "/clients/", "/", "/calls/export.csv", "/test-calls/"):
        body = client.get(path).get_data(as_text=True)
        assert "Bianchi" not in body and "Agenzia B" not in body, path
        assert "+393339998877" not in body, path
    csv_text = client.get("/calls/export.csv").get_data(as_text=True)
    assert world.a.call_id in csv_text and world.b.call_id not in csv_text
    # A filter naming B's tenant still returns nothing of B.
    body = client.get(f"/calls/?tenant={world.b.tenant_id}").get_data(as_text=True)
    assert world.b.call_id not in body


ADMIN_ONLY_GET = ["/users/", "/audit/", "/asterisk/", "/clients/new", "/deliveries/"]


def test_agent_cannot_reach_admin_settings(world: World) -> None:
    client = world.app.test_client()
    token = login(client, world.a.agent_email)
    for path in [*ADMIN_ONLY_GET, f"/clients/{world.a.tenant_id}"]:
        assert client.get(path).status_code == 403, path
    posts = [
        f"/clients/{world.a.tenant_id}",
        "/clients/preview",
        "/clients/new",
        "/users/",
        f"/users/{world.a.admin_user_id}/active",
        f"/users/{world.a.admin_user_id}/reset-password",
        "/asterisk/check",
        "/asterisk/reload",
        f"/deliveries/{world.a.delivery_id}/retry",
    ]
    for path in posts:
        r = client.post(
            path,
            data={"csrf_token": token, "name": "Hacked", "email": "x@y.it", "role": "agency_admin"},
        )
        assert r.status_code == 403, path
    with world.db.session() as s:
        from centralino.tenants.models import Tenant

        tenant = s.get(Tenant, world.a.tenant_id)
        assert tenant is not None and tenant.name == "Agenzia A"
    # Calls and leads of their own agency are theirs to see.
    assert client.get(f"/calls/{world.a.call_id}").status_code == 200


def test_agency_admin_cannot_reach_installation_settings(world: World) -> None:
    client = world.app.test_client()
    token = login(client, world.a.admin_email)
    assert client.get("/asterisk/").status_code == 403
    assert client.get("/clients/new").status_code == 403
    assert client.post("/asterisk/reload", data={"csrf_token": token}).status_code == 403
    r = client.post(
        "/users/",
        data={"csrf_token": token, "email": "boss@a.it", "role": "installation_admin"},
    )
    assert r.status_code == 403
    # ...and users created by an agency admin always belong to that agency.
    r = client.post(
        "/users/",
        data={
            "csrf_token": token,
            "email": "new@a.it",
            "role": "agent",
            "tenant": str(world.b.tenant_id),
        },
    )
    assert r.status_code == 200
    with world.db.session() as s:
        from sqlalchemy import select

        from centralino.accounts.models import User

        user = s.scalar(select(User).where(User.email == "new@a.it"))
        assert user is not None and user.tenant_id == world.a.tenant_id


def test_every_route_needs_login(world: World) -> None:
    client = world.app.test_client()
    own = {k: v for k, v in ID_ARGS.items()}
    for rule in _rules(world):
        if rule.endpoint == "auth.login":
            continue
        url = _url(world, rule, own)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            r = client.open(url, method=method)
            if method == "GET":
                assert r.status_code == 302 and "/login" in r.headers["Location"], url
            else:
                assert r.status_code in (400, 401), f"{method} {url}: {r.status_code}"


@pytest.mark.parametrize("role_email", ["agent@a.it", "admin@a.it"])
def test_suspended_user_is_logged_out(world: World, role_email: str) -> None:
    client = world.app.test_client()
    login(client, role_email)
    with world.db.session() as s:
        from sqlalchemy import update

        from centralino.accounts.models import User

        s.execute(update(User).where(User.email == role_email).values(active=False))
    r = client.get("/calls/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    token = csrf_token(client)
    r = client.post("/login", data={"email": role_email, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 401
