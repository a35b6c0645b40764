"""Fixtures for the web admin: the app on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from centralino.db.session import Database
from tests.admin.support import World, make_world


@pytest.fixture
def world(db: Database, tmp_path: Path) -> Iterator[World]:
    w = make_world(db, tmp_path)
    yield w
    w.services.close()


@pytest.fixture
def sqlite_world(sqlite_db: Database, tmp_path: Path) -> Iterator[World]:
    w = make_world(sqlite_db, tmp_path)
    yield w
    w.services.close()
