"""The real admin app (``create_app``) on a real database, with API keys of two agencies."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from analytics.fixtures import load_fixed_dataset
from flask import Flask
from flask.testing import FlaskClient

from admin_web.app import create_app
from admin_web.services import Services, build_services
from centralino.apikeys.service import ApiKeyService
from centralino.config import Config
from centralino.db.session import Database


@dataclass
class ApiWorld:
    db: Database
    app: Flask
    services: Services
    client: FlaskClient
    alfa: int
    beta: int
    alfa_read: str
    alfa_write: str
    beta_read: str
    revoked: str

    def get(self, path: str, key: str | None, **kw: object) -> object:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self.client.get(path, headers=headers, **kw)  # type: ignore[arg-type]


def api_config(tmp_path: Path, **api: int) -> Config:
    return Config(
        {
            "paths": {"runtime_dir": str(tmp_path / "var")},
            "admin": {"secret_key": secrets.token_hex(32)},
            "api": api or {"rate_per_minute": 100000, "burst": 100000},
        },
        environ={},
    )


def make_api_world(db: Database, tmp_path: Path, **api: int) -> ApiWorld:
    config = api_config(tmp_path, **api)
    services = build_services(config, db)
    alfa, beta = load_fixed_dataset(db)
    keys = ApiKeyService(db)
    revoked = keys.create(alfa, "old integration", "read,write")
    keys.revoke(alfa, revoked.info.id)
    app = create_app(config, services)
    return ApiWorld(
        db=db,
        app=app,
        services=services,
        client=app.test_client(),
        alfa=alfa,
        beta=beta,
        alfa_read=keys.create(alfa, "dashboard", "read").secret,
        alfa_write=keys.create(alfa, "crm sync", "write").secret,
        beta_read=keys.create(beta, "beta", "read").secret,
        revoked=revoked.secret,
    )


@pytest.fixture
def api(db: Database, tmp_path: Path) -> Iterator[ApiWorld]:
    world = make_api_world(db, tmp_path)
    yield world
    world.services.close()


@pytest.fixture
def sqlite_api(sqlite_db: Database, tmp_path: Path) -> Iterator[ApiWorld]:
    world = make_api_world(sqlite_db, tmp_path)
    yield world
    world.services.close()
