"""Fixtures: local provider servers and a dispatcher wired to them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from centralino.config import Config
from centralino.db.base import utcnow

from .fakes import (
    HubSpotFake,
    PipedriveFake,
    SalesforceFake,
    SmtpFake,
    WebhookReceiver,
    WhatsAppFake,
)


@pytest.fixture
def whatsapp() -> Iterator[WhatsAppFake]:
    srv = WhatsAppFake().start()
    yield srv
    srv.stop()


@pytest.fixture
def hubspot() -> Iterator[HubSpotFake]:
    srv = HubSpotFake().start()
    yield srv
    srv.stop()


@pytest.fixture
def salesforce() -> Iterator[SalesforceFake]:
    srv = SalesforceFake(refresh_token="5Aep-refresh").start()
    yield srv
    srv.stop()


@pytest.fixture
def pipedrive() -> Iterator[PipedriveFake]:
    srv = PipedriveFake().start()
    yield srv
    srv.stop()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    srv = WebhookReceiver().start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls")


@pytest.fixture
def smtp(tls_dir: Path) -> Iterator[SmtpFake]:
    srv = SmtpFake(tls_dir).start()
    yield srv
    srv.stop()


def delivery_config(
    *,
    whatsapp: WhatsAppFake | None = None,
    smtp: SmtpFake | None = None,
    smtp_port: int | None = None,
    ca_file: Path | None = None,
    extra: dict[str, Any] | None = None,
) -> Config:
    data: dict[str, Any] = {
        "delivery": {
            "admin_base_url": "https://admin.example.it",
            "backoff_base_s": 30,
            "backoff_max_s": 3600,
            "lease_s": 60,
        }
    }
    if whatsapp is not None:
        data["whatsapp"] = {
            "base_url": whatsapp.url,
            "api_version": "v21.0",
            "phone_number_id": whatsapp.phone_number_id,
            "access_token": whatsapp.token,
        }
    if smtp is not None or smtp_port is not None:
        data["smtp"] = {
            "host": "127.0.0.1",
            "port": smtp.port if smtp is not None else smtp_port,
            "username": "centralino",
            "password": "smtp-pass",
            "sender": "Centralino <centralino@agenzia.it>",
            "ca_file": str(smtp.ca_file if smtp is not None else ca_file),
            "timeout_s": 5,
        }
    for section, values in (extra or {}).items():
        data.setdefault(section, {}).update(values)
    return Config(data, environ={})


class Clock:
    """A settable clock for the outbox, so backoff is checked by timestamps, not waiting."""

    def __init__(self) -> None:
        # A little ahead of real time, so rows created "now" by the tests are due.
        self.now: datetime = utcnow() + timedelta(seconds=5)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()
