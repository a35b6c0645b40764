"""The Analytics page: rendered by the real admin app, drawn by real headless Chromium.

The browser test serves ``create_app`` on 127.0.0.1 with werkzeug, logs in
through the login form, opens the page with a year of generated calls and
checks every chart was drawn (Chart.js from the package, no CDN: the browser
runs with the network off except localhost). It saves the screenshot the
README shows (docs/screenshots/analytics.png).
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from admin_web.app import create_app
from admin_web.services import Services, build_services
from centralino.config import Config
from centralino.db.session import Database
from centralino.demo.generate import GenerateSpec, generate

from .fixtures import load_fixed_dataset

PASSWORD = "analytics-page-password"
ROOT = Path(__file__).resolve().parents[2]
# Refreshed for the README only on request (CENTRALINO_UPDATE_SCREENSHOTS=1).
SCREENSHOT = (
    ROOT / "docs" / "screenshots" / "analytics.png"
    if os.environ.get("CENTRALINO_UPDATE_SCREENSHOTS")
    else ROOT / "tests" / "artifacts" / "analytics.png"
)
_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


@dataclass
class PageWorld:
    app: Flask
    services: Services
    alfa: int
    beta: int


def _world(db: Database, tmp_path: Path, demo_calls: int = 0) -> PageWorld:
    config = Config(
        {
            "paths": {"runtime_dir": str(tmp_path / "var")},
            "admin": {"secret_key": secrets.token_hex(32)},
        },
        environ={},
    )
    services = build_services(config, db)
    alfa, beta = load_fixed_dataset(db)
    if demo_calls:
        today = datetime.now(ZoneInfo("Europe/Rome")).date()
        generate(
            db,
            GenerateSpec(tenant_id=alfa, calls=demo_calls, end=today, days=90, seed=7,
                         transcripts=False),
        )  # fmt: skip
    services.accounts.create_user("root@example.it", "installation_admin", None, PASSWORD)
    services.accounts.create_user("capo@alfa.it", "agency_admin", alfa, PASSWORD)
    services.accounts.create_user("capo@beta.it", "agency_admin", beta, PASSWORD)
    return PageWorld(create_app(config, services), services, alfa, beta)


def _login(client: FlaskClient, email: str) -> None:
    html = client.get("/login").get_data(as_text=True)
    m = _TOKEN.search(html)
    assert m
    r = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": m.group(1)})
    assert r.status_code == 302


@pytest.fixture
def page_world(db: Database, tmp_path: Path) -> Iterator[PageWorld]:
    world = _world(db, tmp_path)
    yield world
    world.services.close()


def test_page_shows_the_hand_computed_numbers(page_world: PageWorld) -> None:
    client = page_world.app.test_client()
    _login(client, "root@example.it")
    r = client.get(
        f"/analytics/?tenant={page_world.alfa}&from=2026-03-28&to=2026-03-30",
        headers={"Accept-Language": "it"},
    )
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert re.search(r'id="stat-calls"><span class="value">5<', html)
    assert "40.0 %" in html  # 2 complete leads out of 5 calls
    assert "1.88 €" in html  # cost per lead
    assert "Chiamate per ora del giorno" in html  # Italian by default
    assert "cdn" not in html.lower()


def test_csv_export(page_world: PageWorld) -> None:
    client = page_world.app.test_client()
    _login(client, "capo@alfa.it")
    r = client.get("/analytics/export.csv?from=2026-03-28&to=2026-03-30")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [row["day"] for row in rows] == ["2026-03-28", "2026-03-29", "2026-03-30"]
    assert [int(row["calls"]) for row in rows] == [2, 2, 1]
    assert [int(row["converted"]) for row in rows] == [1, 1, 0]
    assert rows[0]["reply_ms_p50"] == "400.0"


def test_agency_users_see_only_their_agency(page_world: PageWorld) -> None:
    client = page_world.app.test_client()
    _login(client, "capo@beta.it")
    assert client.get(f"/analytics/?tenant={page_world.alfa}").status_code == 404
    assert client.get(f"/analytics/export.csv?tenant={page_world.alfa}").status_code == 404
    own = client.get("/analytics/?from=2026-03-28&to=2026-03-30").get_data(as_text=True)
    assert "Immobiliare Beta" in own and 'id="filter-tenant"' not in own
    anonymous = page_world.app.test_client()
    assert anonymous.get("/analytics/").status_code == 302  # to the login page


def test_bad_date_range_is_explained(page_world: PageWorld) -> None:
    client = page_world.app.test_client()
    _login(client, "capo@alfa.it")
    r = client.get("/analytics/?from=2026-03-30&to=2026-03-01", headers={"Accept-Language": "it"})
    assert r.status_code == 400
    assert "non precedente alla data di inizio" in r.get_data(as_text=True)
    assert client.get("/analytics/export.csv?from=2026-03-30&to=2026-03-01").status_code == 400


@pytest.mark.browser
@pytest.mark.slow
def test_page_renders_in_headless_chromium(sqlite_db: Database, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("Debian chromium is not installed (scripts/install.d/30-browser.sh)")
    world = _world(sqlite_db, tmp_path, demo_calls=6000)
    server = make_server("127.0.0.1", 0, world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    today = datetime.now(ZoneInfo("Europe/Rome")).date()
    start = today - timedelta(days=89)
    requested: list[str] = []
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                      "--no-first-run", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync"],
            )  # fmt: skip
            context = browser.new_context(locale="it-IT", viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.on("request", lambda req: requested.append(req.url))
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            # The admin serves no favicon: the browser's automatic request for it is not ours.
            page.on(
                "console",
                lambda m: (
                    errors.append(m.text)
                    if m.type == "error" and "favicon" not in m.location.get("url", "")
                    else None
                ),
            )
            page.goto(f"{base}/login")
            page.fill("input[name=email]", "root@example.it")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            page.click("text=Statistiche")  # the nav link the page registers
            page.wait_for_url(re.compile(r".*/analytics/.*"))
            page.select_option("#filter-tenant", str(world.alfa))
            page.fill("#filter-from", start.isoformat())
            page.fill("#filter-to", today.isoformat())
            page.click("#analytics-filters button[type=submit]")
            page.wait_for_selector("body[data-charts=ready]", timeout=20_000)
            rendered = page.eval_on_selector_all(
                "canvas", "els => els.map(e => [e.id, e.dataset.rendered, e.width])"
            )
            assert len(rendered) == 9
            assert all(flag == "1" and width > 100 for _, flag, width in rendered), rendered
            calls = int(page.inner_text("#stat-calls .value"))
            assert 5000 < calls <= 6000
            assert errors == []
            # Chart.js came from the package, nothing left this machine.
            assert any("vendor/chartjs/chart.umd.js" in url for url in requested)
            assert all(url.startswith(base) for url in requested), requested
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            browser.close()
    finally:
        server.shutdown()
        world.services.close()
    assert SCREENSHOT.stat().st_size > 20_000
