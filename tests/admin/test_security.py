"""Login, sessions, CSRF, rate limiting, secrets and response headers."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from admin_web.app import create_app
from centralino.accounts.models import LoginAttempt
from centralino.accounts.passwords import hash_password, verify_password
from centralino.accounts.service import AccountError, AccountService
from centralino.config import Config, ConfigError
from centralino.db.session import Database
from tests.admin.support import PASSWORD, World, csrf_token, login


def test_password_hashing() -> None:
    encoded = hash_password("una password lunga")
    assert encoded.startswith("scrypt$") and "una password" not in encoded
    assert verify_password("una password lunga", encoded)
    assert not verify_password("una password lungA", encoded)
    assert not verify_password("x", "garbage")
    assert hash_password("same") != hash_password("same")  # salted


def test_missing_secret_key_names_the_variable(tmp_path: Path, sqlite_db: Database) -> None:
    config = Config({"paths": {"runtime_dir": str(tmp_path)}}, environ={})
    with pytest.raises(ConfigError, match="CENTRALINO_ADMIN__SECRET_KEY"):
        create_app(config)
    env_config = Config(
        {"paths": {"runtime_dir": str(tmp_path)}},
        environ={"CENTRALINO_ADMIN__SECRET_KEY": secrets.token_hex(16)},
    )
    from admin_web.services import build_services

    app = create_app(env_config, build_services(env_config, sqlite_db))
    assert app.config["SECRET_KEY"] == env_config._env["CENTRALINO_ADMIN__SECRET_KEY"]


def test_no_default_account(sqlite_db: Database) -> None:
    accounts = AccountService(sqlite_db)
    assert accounts.count() == 0
    for email, password in [("admin", "admin"), ("admin@localhost", "admin"), ("", "")]:
        assert accounts.authenticate(email, password, "127.0.0.1") is None


def test_create_user_validation(world: World) -> None:
    accounts = world.services.accounts
    with pytest.raises(AccountError) as exc:
        accounts.create_user("not-an-email", "agent", world.a.tenant_id)
    assert exc.value.field == "email"
    with pytest.raises(AccountError) as exc:
        accounts.create_user("x@a.it", "agent", None)
    assert exc.value.field == "tenant"
    with pytest.raises(AccountError) as exc:
        accounts.create_user("x@a.it", "superuser", world.a.tenant_id)
    assert exc.value.field == "role"
    with pytest.raises(AccountError) as exc:
        accounts.create_user("x@a.it", "agent", world.a.tenant_id, "short")
    assert exc.value.field == "password"
    with pytest.raises(AccountError) as exc:
        accounts.create_user("ADMIN@A.IT", "agent", world.a.tenant_id)
    assert exc.value.field == "email"  # e-mails are case-insensitive
    new = accounts.create_user("x@a.it", "agent", world.a.tenant_id)
    assert len(new.generated_password) >= 12
    assert accounts.authenticate("X@a.it", new.generated_password, "10.0.0.1") is not None


def test_csrf_missing_is_400_and_changes_nothing(world: World) -> None:
    client = world.app.test_client()
    r = client.post("/login", data={"email": world.a.admin_email, "password": PASSWORD})
    assert r.status_code == 400
    login(client, world.a.admin_email)
    r = client.post(f"/clients/{world.a.tenant_id}", data={"name": "Senza token"})
    assert r.status_code == 400
    r = client.post(f"/clients/{world.a.tenant_id}", data={"name": "x", "csrf_token": "forged"})
    assert r.status_code == 400
    for path in ("/logout", "/clients/preview", f"/test-calls/{world.a.tenant_id}/chat", "/users/"):
        assert client.post(path, data={"text": "x"}).status_code == 400, path
    with world.db.session() as s:
        from centralino.tenants.models import Tenant

        tenant = s.get(Tenant, world.a.tenant_id)
        assert tenant is not None and tenant.name == "Agenzia A"
    assert client.get("/").status_code == 200  # still logged in: logout was refused


def test_login_rate_limited_per_email(world: World) -> None:
    client = world.app.test_client()
    token = csrf_token(client)
    for _ in range(5):
        r = client.post(
            "/login",
            data={"email": world.a.agent_email, "password": "wrong-password", "csrf_token": token},
        )
        assert r.status_code == 401
        assert "E-mail o password errate" in r.get_data(as_text=True)
    # The right password no longer helps: the account is locked for the window.
    r = client.post(
        "/login", data={"email": world.a.agent_email, "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 429
    assert "Troppi tentativi" in r.get_data(as_text=True)
    assert client.get("/").status_code == 302
    # Another account from the same address is not affected by that e-mail's limit.
    login(client, world.a.admin_email)


def test_login_rate_limited_per_ip(world: World) -> None:
    client = world.app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.77"
    token = csrf_token(client)
    for i in range(20):
        client.post(
            "/login", data={"email": f"guess{i}@a.it", "password": "x", "csrf_token": token}
        )
    r = client.post(
        "/login", data={"email": world.a.admin_email, "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 429
    other = world.app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.78"
    login(other, world.a.admin_email)
    with world.db.session() as s:
        from sqlalchemy import func, select

        failures = s.scalar(
            select(func.count(LoginAttempt.id)).where(LoginAttempt.ip == "192.0.2.77")
        )
        assert failures == 20  # the refused 21st try is not even checked


def test_session_cookie_flags(world: World, tmp_path: Path) -> None:
    client = world.app.test_client()
    token = csrf_token(client)
    r = client.post(
        "/login", data={"email": world.a.admin_email, "password": PASSWORD, "csrf_token": token}
    )
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure_config = world.config.with_overrides({"admin": {"secure_cookies": True}})
    secure_app = create_app(secure_config, world.services)
    secure = secure_app.test_client()
    token = csrf_token(secure)
    r = secure.post(
        "/login",
        data={"email": world.a.admin_email, "password": PASSWORD, "csrf_token": token},
        base_url="https://localhost",
    )
    assert "Secure" in r.headers["Set-Cookie"]


def test_security_headers_and_logout(world: World) -> None:
    client = world.app.test_client()
    token = login(client, world.a.admin_email)
    r = client.get("/")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Cache-Control"] == "no-store"
    r = client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "javascript:x"])
def test_login_never_redirects_off_site(world: World, target: str) -> None:
    client = world.app.test_client()
    token = csrf_token(client)
    r = client.post(
        f"/login?next={target}",
        data={"email": world.a.admin_email, "password": PASSWORD, "csrf_token": token},
    )
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_audit_log_records_user_changes(world: World) -> None:
    client = world.app.test_client()
    token = login(client, world.a.admin_email)
    r = client.post(
        f"/users/{world.a.agent_user_id}/active", data={"csrf_token": token, "active": "0"}
    )
    assert r.status_code == 302
    html = client.get("/audit/").get_data(as_text=True)
    assert "user.update" in html and world.a.admin_email in html
    from sqlalchemy import select

    from centralino.accounts.models import AuditEntry

    with world.db.session() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "user.update"))
        assert entry is not None
        assert entry.before and entry.before["active"] is True
        assert entry.after and entry.after["active"] is False
        assert entry.user_email == world.a.admin_email and entry.tenant_id == world.a.tenant_id
        assert "password_hash" not in (entry.after or {})
    # B's admin does not see A's audit entries.
    other = world.app.test_client()
    login(other, world.b.admin_email)
    assert "user.update" not in other.get("/audit/").get_data(as_text=True)


def test_reset_password_shows_it_once(world: World) -> None:
    client = world.app.test_client()
    token = login(client, world.a.admin_email)
    r = client.post(f"/users/{world.a.agent_user_id}/reset-password", data={"csrf_token": token})
    assert r.status_code == 200
    import re

    m = re.search(r'id="new-password">.*?<code>([^<]+)</code>', r.get_data(as_text=True), re.S)
    assert m
    new_password = m.group(1)
    assert new_password not in client.get("/users/").get_data(as_text=True)
    assert world.services.accounts.authenticate(world.a.agent_email, new_password) is not None
    assert world.services.accounts.authenticate(world.a.agent_email, PASSWORD) is None


def test_profile_password_change(sqlite_world: World) -> None:
    world = sqlite_world
    client = world.app.test_client()
    token = login(client, world.a.agent_email)
    bad = [
        (
            {
                "current_password": "wrong",
                "new_password": "nuova-password-1",
                "confirm_password": "nuova-password-1",
            },
            "current_password",
        ),
        (
            {"current_password": PASSWORD, "new_password": "corta", "confirm_password": "corta"},
            "new_password",
        ),
        (
            {
                "current_password": PASSWORD,
                "new_password": "nuova-password-1",
                "confirm_password": "nuova-password-2",
            },
            "confirm_password",
        ),
    ]
    for data, field in bad:
        r = client.post("/profile", data={**data, "form": "password", "csrf_token": token})
        assert r.status_code == 400 and f'id="error-{field}"' in r.get_data(as_text=True)
    assert world.services.accounts.authenticate(world.a.agent_email, PASSWORD) is not None
    r = client.post(
        "/profile",
        data={
            "form": "password",
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "nuova-password-1",
            "confirm_password": "nuova-password-1",
        },
    )
    assert r.status_code == 302
    assert world.services.accounts.authenticate(world.a.agent_email, "nuova-password-1")
    assert world.services.accounts.authenticate(world.a.agent_email, PASSWORD) is None
