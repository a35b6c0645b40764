"""The admin in a real headless Chromium (Debian's /usr/bin/chromium via Playwright).

The app runs in a real HTTP server thread (werkzeug) on 127.0.0.1 with a real
SQLite database; the browser clicks through it like a person. Screenshots of
the main pages go to docs/screenshots/ (linked from the README).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from centralino.calls.service import CallStart, CallStore
from centralino.tenants.models import Tenant
from tests.admin.support import PASSWORD, World

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
# The README's screenshots are refreshed only on request (CENTRALINO_UPDATE_SCREENSHOTS=1),
# so an ordinary test run leaves the checkout clean.
SCREENSHOTS = Path(__file__).resolve().parents[2] / (
    "docs/screenshots" if os.environ.get("CENTRALINO_UPDATE_SCREENSHOTS") else "tests/artifacts"
)
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
XSS = "<script>alert('xss')</script>"


@pytest.fixture
def server(sqlite_world: World) -> Iterator[str]:
    srv = make_server("127.0.0.1", 0, sqlite_world.app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def page(server: str) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is not installed: run scripts/install.d/30-browser.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        # bypass_csp: Playwright's waits evaluate JavaScript, which our CSP forbids;
        # it also proves the escaping below holds without the CSP's help.
        context = browser.new_context(
            base_url=server,
            locale="it-IT",
            viewport={"width": 1280, "height": 900},
            bypass_csp=True,
        )
        context.set_default_timeout(15_000)
        pg: Any = context.new_page()
        errors: list[str] = []
        dialogs: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))

        def on_dialog(dialog: Any) -> None:  # an alert() from injected script: record it
            dialogs.append(dialog.message)
            dialog.dismiss()

        pg.on("dialog", on_dialog)
        pg.js_errors = errors  # read back by the tests
        pg.dialogs = dialogs
        yield pg
        context.close()
        browser.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("h1:has-text('Cruscotto')")


def test_admin_end_to_end(page: Any, sqlite_world: World) -> None:
    world = sqlite_world
    # A few more calls so the call log looks like a real day.
    store = CallStore(world.db)
    for i, (name, outcome) in enumerate([("Verdi", "completed"), ("Neri", "abandoned")]):
        cid = store.start(
            CallStart(
                tenant_id=world.b.tenant_id,
                channel_id=f"x{i}",
                caller_id=f"+39347000000{i}",
                caller_name=name,
                did=world.b.did,
            )
        )
        store.end(cid, outcome=outcome, hangup_cause="Normal Clearing", hangup_code=16)

    # --- log in ------------------------------------------------------------
    page.goto("/calls/")
    assert "/login" in page.url  # not logged in: sent to the login page
    shot(page, "login")
    page.fill("input[name=email]", world.root_email)
    page.fill("input[name=password]", "wrong-password")
    page.click("#login-submit")
    assert "E-mail o password errate" in page.inner_text("#login-error")
    page.fill("input[name=email]", world.root_email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("h1:has-text('Registro chiamate')")  # back where we wanted to go
    page.click("nav.mainnav >> text=Cruscotto")
    assert page.inner_text("#stat-clients .value") == "2"
    assert "+39021" in page.inner_text("#live-calls")
    shot(page, "dashboard")
    # "Calls in progress" follows the database: the controller ending a call
    # removes it from the open page on the next refresh, without reloading.
    assert page.locator("#live-calls tbody tr").count() == 2
    store.end(world.a.live_call_id, outcome="abandoned", hangup_cause="caller hung up")
    page.wait_for_function(
        "document.querySelectorAll('#live-calls tbody tr').length === 1", timeout=15_000
    )

    # --- create a client with a DID and questions --------------------------
    page.click("nav.mainnav >> text=Clienti")
    page.click("#new-client")
    page.fill("input[name=slug]", "casa-blu")
    page.fill("input[name=name]", "Casa Blu Immobiliare")
    page.fill("textarea[name=numbers]", "02 4444 1234")
    # An invalid transfer number first: the error appears next to the field.
    page.fill("input[name=transfer_number]", "non-un-numero")
    page.click("#save-client")
    assert "non è un numero di telefono valido" in page.inner_text("#error-transfer_number")
    assert page.is_visible("#form-errors")
    page.fill("input[name=transfer_number]", "+390244440000")
    rows_before = page.locator("#questions tbody tr").count()
    page.click("#add-question")
    new_row = page.locator("#questions tbody tr").last
    new_row.locator("input[name=q_text]").fill("Ha già un immobile da vendere?")
    new_row.locator("input[name=q_key]").fill("has_property")
    new_row.locator("select[name=q_required]").select_option("0")
    new_row.locator(".row-up").click()  # now second to last
    page.locator("#questions tbody tr").first.locator(".row-remove").click()
    page.click("#save-client")
    page.wait_for_selector("text=Cliente creato.")
    with world.db.session() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.slug == "casa-blu"))
        assert tenant is not None
        assert [n.e164 for n in tenant.numbers] == ["+390244441234"]
        keys = [q["key"] for q in tenant.questions]
        assert len(keys) == rows_before and "name" not in keys
        assert keys[-2] == "has_property"
        assert tenant.questions[-2]["required"] is False
        tenant_id = tenant.id

    # --- edit the prompt and see the preview --------------------------------
    prompt = page.locator("#prompt_template")
    prompt.fill("Sei la centralinista di {{ agency }}. Zone: {{ zones }}.")
    page.fill("textarea[name=zones]", "Navigli\nBrera")
    page.wait_for_function(
        "document.getElementById('prompt-preview').textContent"
        " === 'Sei la centralinista di Casa Blu Immobiliare. Zone: Navigli, Brera.'"
    )
    shot(page, "client-editor")
    prompt.fill("Ciao {{ cliente_sconosciuto }}")
    page.wait_for_selector("#prompt-preview-errors li:has-text('cliente_sconosciuto')")
    prompt.fill(f"{XSS} Sei la centralinista di {{{{ agency }}}}.")
    page.wait_for_function(
        "document.getElementById('prompt-preview').textContent.startsWith('<script>')"
    )
    page.click("#save-client")
    page.wait_for_selector("text=Modifiche salvate.")
    assert page.input_value("#prompt_template").startswith(XSS)
    assert page.inner_text("#prompt-preview").startswith(XSS)  # shown as text, not run

    # --- chat test ----------------------------------------------------------
    page.goto(f"/test-calls/{tenant_id}/chat")
    page.select_option("select[name=hours]", "open")
    page.click("#chat-start-button")
    page.wait_for_selector(".msg-agent:has-text('Casa Blu Immobiliare')")
    page.fill("#chat-input", "Buongiorno, sono Mario Rossi")
    page.click("#chat-send")
    page.wait_for_selector("#chat-lead dd[data-field=name]:has-text('Mario Rossi')")
    page.fill("#chat-input", "vorrei comprare un trilocale in Brera")
    page.click("#chat-send")
    page.wait_for_selector("#chat-lead dd[data-field=request_type]:has-text('acquisto')")
    page.wait_for_selector("#chat-lead dd[data-field=zone]:has-text('Brera')")
    assert page.locator(".msg-agent").count() == 3
    shot(page, "chat-simulator")

    # --- find a call with the filters and play its recording -----------------
    page.click("nav.mainnav >> text=Registro chiamate")
    assert page.locator("tr.call-row").count() >= 4
    page.select_option("select[name=tenant]", str(world.a.tenant_id))
    page.select_option("select[name=quality]", "high")
    page.fill("input[name=caller]", "3331112233")
    page.fill("input[name=q]", "trilocale")
    page.click("#apply-filters")
    page.wait_for_selector("#call-count:has-text('1 chiamata')")
    assert page.locator("tr.call-row").count() == 1
    shot(page, "call-log")
    page.click("tr.call-row >> a.open-call")
    page.wait_for_selector("#transcript")
    assert "Normal Clearing" in page.inner_text("#hangup-cause")
    assert "Cerco un trilocale" in page.inner_text("#transcript")
    page.wait_for_function("document.getElementById('recording').readyState >= 1")
    duration = page.evaluate("document.getElementById('recording').duration")
    assert 1.4 < duration < 1.6
    page.evaluate("document.getElementById('recording').play()")
    page.wait_for_function("document.getElementById('recording').currentTime > 0.2")
    assert page.evaluate("document.getElementById('recording').readyState") >= 2
    assert page.evaluate("document.getElementById('recording').error") is None
    shot(page, "call-detail")

    # --- the other main pages, for the README -------------------------------
    page.click("nav.mainnav >> text=Clienti")
    assert "Casa Blu Immobiliare" in page.inner_text("#clients")
    shot(page, "clients")
    page.click("nav.mainnav >> text=Consegne")
    assert "SMTP 550" in page.inner_text("#deliveries")
    page.locator("tr.status-dead button.retry").first.click()
    page.wait_for_selector("text=La consegna verrà ritentata tra un istante.")
    shot(page, "deliveries")
    page.click("nav.mainnav >> text=Registro modifiche")
    assert "tenant.create" in page.inner_text("#audit")
    shot(page, "audit-log")

    # --- log out --------------------------------------------------------------
    page.click("#logout")
    page.wait_for_selector("text=Sei uscito.")
    page.goto("/")
    assert "/login" in page.url
    assert page.dialogs == []
    assert page.js_errors == []


def test_script_payloads_are_shown_not_run(page: Any, sqlite_world: World) -> None:
    world = sqlite_world
    store = CallStore(world.db)
    cid = store.start(
        CallStart(
            tenant_id=world.a.tenant_id,
            channel_id="x",
            caller_id="+3902",
            caller_name=XSS,
            did=world.a.did,
        )
    )
    store.add_turn(cid, world.a.tenant_id, "caller", f"Mi chiamo {XSS}")
    with world.db.session() as s:
        tenant = s.get(Tenant, world.a.tenant_id)
        assert tenant is not None
        tenant.name = f"Agenzia {XSS}"
        tenant.prompt_template = f"{XSS} {{{{ agency }}}}"
    log_in(page, world.a.admin_email)
    for path in (f"/calls/{cid}", "/calls/", "/", f"/clients/{world.a.tenant_id}", "/clients/"):
        page.goto(path)
        assert XSS in page.inner_text("main"), path
    assert re.search(r"<script>alert", page.inner_text("main"))
    page.goto(f"/test-calls/{world.a.tenant_id}/chat")
    page.click("#chat-start-button")
    page.wait_for_selector(".msg-agent")
    page.fill("#chat-input", XSS)
    page.click("#chat-send")
    page.wait_for_selector(f'.msg-caller:has-text("{XSS}")')
    assert page.dialogs == []
