"""Helpers for the web admin tests: two agencies with calls, leads and users of each role."""

from __future__ import annotations

import math
import re
import secrets
import struct
import wave
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient

from admin_web.app import create_app
from admin_web.services import Services, build_services
from centralino.accounts.service import AccountService, RateLimit
from centralino.apikeys.service import ApiKeyService
from centralino.calls.service import CallStart, CallStore
from centralino.config import Config
from centralino.db.session import Database
from centralino.delivery.models import Delivery
from centralino.leads.models import Lead
from centralino.tenants.service import TenantService, parse_spec

PASSWORD = "correct-horse-battery"
_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def write_wav(path: Path, seconds: float = 1.5, rate: int = 8000) -> None:
    """A real PCM WAV (440 Hz tone) the browser can decode and play."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


@dataclass
class Agency:
    tenant_id: int
    slug: str
    did: str
    call_id: str
    live_call_id: str
    lead_id: int
    admin_email: str
    agent_email: str
    admin_user_id: int
    agent_user_id: int
    api_key_id: int
    delivery_id: int


@dataclass
class World:
    db: Database
    config: Config
    services: Services
    app: Flask
    a: Agency
    b: Agency
    root_email: str


def admin_config(tmp_path: Path) -> Config:
    return Config(
        {
            "paths": {"runtime_dir": str(tmp_path / "var")},
            "admin": {"secret_key": secrets.token_hex(32)},
        },
        environ={},
    )


def _agency(
    db: Database, config: Config, accounts: AccountService, slug: str, did: str, caller_name: str
) -> Agency:
    tid = TenantService(db).upsert(
        parse_spec({"slug": slug, "name": f"Agenzia {slug.upper()}", "numbers": [did]})
    )
    store = CallStore(db)
    # Today in the admin's zone (Europe/Rome) even right after midnight: the
    # dashboard test counts "calls today".
    now = datetime.now(UTC)
    midnight = now.astimezone(ZoneInfo("Europe/Rome")).replace(hour=0, minute=0, second=0)
    started = max(now - timedelta(minutes=30), midnight.astimezone(UTC) + timedelta(seconds=1))
    call_id = store.start(
        CallStart(
            tenant_id=tid,
            channel_id=f"chan-{slug}",
            caller_id="+393331112233" if slug == "a" else "+393339998877",
            caller_name=caller_name,
            did=did,
            started_at=started,
        )
    )
    store.answered(call_id, started + timedelta(seconds=1))
    store.add_turn(
        call_id,
        tid,
        "agent",
        f"Buongiorno, ha chiamato Agenzia {slug.upper()}.",
        llm_provider="rules",
        tts_provider="espeak",
        first_audio_ms=210.0,
        at=started + timedelta(seconds=2),
    )
    store.add_turn(
        call_id,
        tid,
        "caller",
        f"Cerco un trilocale ai Navigli parola{slug}",
        stt_provider="whisper",
        stt_ms=180.0,
        stt_confidence=0.91,
        at=started + timedelta(seconds=6),
    )
    rec = Path(f"{slug}/{call_id}.wav")
    write_wav(config.recordings_dir / rec)
    store.end(
        call_id,
        outcome="lead",
        hangup_cause="Normal Clearing",
        hangup_code=16,
        ended_at=started + timedelta(seconds=40),
        recording_path=str(rec),
    )
    with db.session() as s:
        lead = Lead(
            tenant_id=tid,
            call_id=call_id,
            name=f"Mario {slug}",
            phone="+393331112233",
            request_type="buy",
            zone="Navigli",
            score=80 if slug == "a" else 30,
        )
        s.add(lead)
        s.flush()
        lead_id = lead.id
        delivery = Delivery(
            tenant_id=tid, lead_id=lead_id, kind="notify", channel="email",
            recipient=f"ufficio@{slug}.it", idempotency_key=f"test-{slug}-{lead_id}",
            status="dead", attempts=8, last_error="SMTP 550 mailbox unavailable",
        )  # fmt: skip
        s.add(delivery)
        s.flush()
        delivery_id = delivery.id
    live = store.start(
        CallStart(tenant_id=tid, channel_id=f"live-{slug}", caller_id="+39021", did=did)
    )
    admin = accounts.create_user(f"admin@{slug}.it", "agency_admin", tid, PASSWORD)
    agent = accounts.create_user(f"agent@{slug}.it", "agent", tid, PASSWORD)
    key = ApiKeyService(db).create(tid, f"CRM {slug}", "read")
    return Agency(
        tid,
        slug,
        did,
        call_id,
        live,
        lead_id,
        admin.email,
        agent.email,
        admin.user_id,
        agent.user_id,
        key.info.id,
        delivery_id,
    )


def make_world(db: Database, tmp_path: Path) -> World:
    config = admin_config(tmp_path)
    services = build_services(config, db, RateLimit(max_failures_per_email=5))
    accounts = services.accounts
    a = _agency(db, config, accounts, "a", "+390211111111", "Rossi")
    b = _agency(db, config, accounts, "b", "+390222222222", "Bianchi")
    accounts.create_user("root@example.it", "installation_admin", None, PASSWORD)
    app = create_app(config, services)
    return World(db, config, services, app, a, b, "root@example.it")


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    m = _TOKEN.search(html)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> str:
    """Log in through the real form; return the session's CSRF token."""
    token = csrf_token(client)
    r = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return csrf_token(client, "/")
