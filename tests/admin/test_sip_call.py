"""The admin's real SIP test call, end to end: real Asterisk 22, the real ARI
controller (``pbx_env`` from tests/pbx), the simulated caller over SIP/RTP, and
the admin finding and opening the call the platform stored."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from admin_web.app import create_app
from admin_web.services import build_services
from tests.admin.support import PASSWORD, login
from tests.pbx.conftest import DEMO_DID, PbxEnv, pbx_env  # noqa: F401  (fixture)

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]


async def test_sip_test_call_dials_the_did_and_opens_the_stored_call(pbx_env: PbxEnv) -> None:  # noqa: F811
    config = pbx_env.config.with_overrides({"admin": {"secret_key": secrets.token_hex(32)}})
    services = build_services(config, pbx_env.db)
    app = create_app(config, services)
    tenant = services.tenants.by_did(DEMO_DID)
    assert tenant is not None
    services.accounts.create_user("admin@demo.it", "agency_admin", tenant.id, PASSWORD)
    client = app.test_client()
    # The controller runs on this test's event loop: drive Flask from a thread.
    token = await asyncio.to_thread(login, client, "admin@demo.it")
    url = f"/test-calls/{tenant.id}/sip"

    # Bad input first: a number of another agency, an unknown script.
    r = await asyncio.to_thread(
        client.post, url, data={"csrf_token": token, "did": "+390299999999", "script": "greeting"}
    )
    assert r.status_code == 400 and 'id="error-did"' in r.get_data(as_text=True)
    r = await asyncio.to_thread(
        client.post, url, data={"csrf_token": token, "did": DEMO_DID, "script": "nope"}
    )
    assert r.status_code == 400 and 'id="error-script"' in r.get_data(as_text=True)
    assert not pbx_env.controller.sessions

    r = await asyncio.to_thread(
        client.post,
        url,
        data={
            "csrf_token": token,
            "did": DEMO_DID,
            "script": "greeting",
            "caller": "+393471112233",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-3000:]
    call_id = r.headers["Location"].rstrip("/").split("/")[-1]
    await pbx_env.wait_idle()
    call = pbx_env.store.get(call_id)
    assert call is not None
    assert call.tenant_id == tenant.id and call.did == DEMO_DID
    assert call.caller_id == "+393471112233" and call.state == "ended"
    detail = await asyncio.to_thread(client.get, f"/calls/{call_id}")
    body = detail.get_data(as_text=True)
    assert detail.status_code == 200 and "+393471112233" in body and DEMO_DID in body
    services.close()
