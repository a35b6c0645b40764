"""The Asterisk page against the session's real Asterisk 22: settings and rendered
configuration with secrets masked, *Verifica* (throwaway validation instance) and
*Ricarica* (audited) through ``centralino.asterisk.manage``."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from admin_web.app import create_app
from admin_web.services import build_services
from centralino.accounts.models import AuditEntry
from centralino.db.session import Database
from tests.admin.support import PASSWORD, login
from tests.fixtures.asterisk import AsteriskFixture

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]


def test_asterisk_page_masks_secrets_checks_and_reloads(
    asterisk: AsteriskFixture, sqlite_db: Database
) -> None:
    config = asterisk.config.with_overrides({"admin": {"secret_key": secrets.token_hex(32)}})
    services = build_services(config, sqlite_db)
    app = create_app(config, services)
    services.accounts.create_user("it@example.it", "installation_admin", None, PASSWORD)
    client = app.test_client()
    token = login(client, "it@example.it")
    settings = asterisk.settings
    hidden = [settings.ari_password, settings.ami_secret]
    assert all(len(s) >= 8 for s in hidden)

    page = client.get("/asterisk/")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "pjsip.conf" in body and "extensions.conf" in body and "trunk_host" in body
    assert str(settings.sip_port) in body
    for secret in hidden:
        assert secret not in body
    assert "••••••" in body

    checked = client.post("/asterisk/check", data={"csrf_token": token})
    body = checked.get_data(as_text=True)
    assert checked.status_code == 200, body[-2000:]
    assert "Configurazione valida." in body
    for secret in hidden:
        assert secret not in body

    reloaded = client.post("/asterisk/reload", data={"csrf_token": token})
    body = reloaded.get_data(as_text=True)
    assert reloaded.status_code == 200, body[-2000:]
    assert "nothing to do" in body or "reloaded" in body
    with sqlite_db.session() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "asterisk.reload"))
        assert entry is not None and entry.user_email == "it@example.it"
        assert entry.after is not None and entry.after["rolled_back"] is False
    assert client.post("/asterisk/format-disk", data={"csrf_token": token}).status_code == 404
    services.close()
