"""Backup and restore on SQLite (online backup API) and PostgreSQL (pg_dump/pg_restore).

Real databases, real files: a backup restored into an empty database must give
the same rows in every table and byte-identical recordings; a corrupt, truncated
or tampered archive is refused with a clear message and the current database is
left exactly as it was (even with --force, since verification comes first).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from centralino.backup.archive import (
    BackupError,
    create_backup,
    prune_backups,
    restore_backup,
    verify_archive,
)
from centralino.calls.models import Call
from centralino.calls.service import CallStart, CallStore
from centralino.config import Config
from centralino.db.models import Base
from centralino.db.session import Database
from centralino.leads.service import LeadService
from centralino.tenants.service import TenantService, parse_spec

PG_ADMIN_URL = os.environ.get(
    "CENTRALINO_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def make_config(root: Path, db: Database, recordings: str = "rec") -> Config:
    return Config(
        {
            "paths": {"runtime_dir": str(root / "var"), "recordings_dir": str(root / recordings)},
            "database": {"url": db.url},
        },
        environ={},
    )


def populate(db: Database, config: Config) -> None:
    tenant = TenantService(db).upsert(
        parse_spec(
            {
                "slug": "rossi",
                "name": "Immobiliare Rossi",
                "numbers": ["+390212345678"],
                "premium_zones": ["Brera"],
                "settings": {
                    "delivery": {"channels": ["email"], "email": {"recipients": ["a@rossi.it"]}}
                },
            }
        )
    )
    store = CallStore(db)
    rec = config.recordings_dir
    for i in range(3):
        call = store.start(
            CallStart(
                tenant_id=tenant, channel_id=f"c{i}", caller_id="+393331112222", did="+390212345678"
            )
        )
        rel = f"2026/11/{call}.wav"
        (rec / "2026/11").mkdir(parents=True, exist_ok=True)
        (rec / rel).write_bytes(os.urandom(4096 + i))
        with db.session() as s:
            c = s.get(Call, call)
            assert c is not None
            c.recording_path = rel
        LeadService(db, config).save_from_call(
            tenant,
            call,
            {
                "lead": {
                    "name": f"Cliente {i}",
                    "phone": "3331112222",
                    "budget_max": 350_000 + i,
                    "zone": "Brera",
                },
                "transcript": ["è urgente"],
            },
        )


def dump_rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with db.engine.connect() as c:
        for table in Base.metadata.sorted_tables:
            pk = list(table.primary_key.columns)
            rows = c.execute(select(table).order_by(*pk)).all()
            out[table.name] = [tuple(r) for r in rows]
    return out


def files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def empty_db(db: Database, tmp_path: Path) -> Iterator[Database]:
    """A second, migrated, empty database on the same backend as ``db``."""
    if db.is_sqlite:
        other = Database(f"sqlite:///{tmp_path / 'restored.db'}")
        other.upgrade()
        yield other
        other.dispose()
        return
    name = f"centralino_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    other = Database(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    other.upgrade()
    yield other
    other.dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_backup_then_restore_into_empty_database(
    db: Database, empty_db: Database, tmp_path: Path
) -> None:
    src_cfg = make_config(tmp_path, db)
    populate(db, src_cfg)
    archive = create_backup(db, src_cfg, tmp_path / "backups")
    manifest = verify_archive(archive)
    assert manifest["recordings"] == 3
    assert manifest["database"]["row_counts"]["leads"] == 3

    dst_cfg = make_config(tmp_path, empty_db, recordings="rec-restored")
    restore_backup(empty_db, dst_cfg, archive)
    before, after = dump_rows(db), dump_rows(empty_db)
    assert after == before
    assert len(after["leads"]) == 3 and len(after["deliveries"]) == 3
    assert files(dst_cfg.recordings_dir) == files(src_cfg.recordings_dir)
    assert len(files(dst_cfg.recordings_dir)) == 3
    # The restored database is usable: a new lead gets the next id.
    with empty_db.session() as s:
        tenant_id = s.execute(text("SELECT id FROM tenants")).scalar_one()
    LeadService(empty_db, dst_cfg).save_from_call(tenant_id, None, {"lead": {"name": "Nuovo"}})


def test_restore_refuses_non_empty_database_without_force(db: Database, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, db)
    populate(db, cfg)
    archive = create_backup(db, cfg, tmp_path / "backups")
    before = dump_rows(db)
    with pytest.raises(BackupError, match=r"not empty.*--force"):
        restore_backup(db, cfg, archive)
    assert dump_rows(db) == before
    # With --force it goes through (same content back).
    restore_backup(db, cfg, archive, force=True)
    assert dump_rows(db) == before


def _rewrite(archive: Path, out: Path, change: dict[str, bytes]) -> None:
    """Repack an archive, replacing some members' bytes but keeping the old manifest."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for m in src:
            data = src.extractfile(m).read()  # type: ignore[union-attr]
            data = change.get(m.name, data)
            m.size = len(data)
            dst.addfile(m, io.BytesIO(data))


def test_corrupt_truncated_or_tampered_archive_is_refused(
    db: Database, empty_db: Database, tmp_path: Path
) -> None:
    cfg = make_config(tmp_path, db)
    populate(db, cfg)
    archive = create_backup(db, cfg, tmp_path / "backups")
    raw = archive.read_bytes()

    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(raw[: len(raw) // 2])
    flipped = tmp_path / "flipped.tar.gz"
    mid = len(raw) // 2
    flipped.write_bytes(raw[:mid] + bytes([raw[mid] ^ 0xFF]) + raw[mid + 1 :])
    with tarfile.open(archive, "r:gz") as tar:
        rec_name = next(m.name for m in tar if m.name.startswith("recordings/"))
    tampered = tmp_path / "tampered.tar.gz"
    _rewrite(archive, tampered, {rec_name: b"not the original recording"})
    no_manifest = tmp_path / "nomanifest.tar.gz"
    with tarfile.open(archive, "r:gz") as src, tarfile.open(no_manifest, "w:gz") as dst:
        for m in src:
            if m.name != "manifest.json":
                dst.addfile(m, src.extractfile(m))
    not_gzip = tmp_path / "random.tar.gz"
    not_gzip.write_bytes(gzip.compress(b"hello")[:-4] + b"xxxx")

    # The target has data of its own, and --force is given: verification still comes first.
    other_cfg = make_config(tmp_path, empty_db, recordings="rec-other")
    populate(empty_db, other_cfg)
    before_rows, before_files = dump_rows(empty_db), files(other_cfg.recordings_dir)
    expected = {
        truncated: "corrupt or truncated",
        flipped: "corrupt",
        tampered: f"checksum mismatch for '{rec_name}'",
        no_manifest: "no manifest.json",
        not_gzip: "corrupt or truncated",
        tmp_path / "missing.tar.gz": "no such backup file",
    }
    for bad, message in expected.items():
        with pytest.raises(BackupError) as exc:
            restore_backup(empty_db, other_cfg, bad, force=True)
        assert message in str(exc.value), (bad.name, str(exc.value))
        assert dump_rows(empty_db) == before_rows
        assert files(other_cfg.recordings_dir) == before_files
    # No staging leftovers.
    assert not list(other_cfg.runtime_dir.glob(".restore-*"))


def test_retention_keeps_recent_and_newest(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    now = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    names = []
    for days in (0, 5, 13, 15, 40):
        name = f"centralino-backup-{(now - timedelta(days=days)).strftime('%Y%m%dT%H%M%SZ')}.tar.gz"
        (folder / name).write_bytes(b"x")
        names.append(name)
    (folder / "unrelated.txt").write_text("keep")
    removed = prune_backups(folder, 14, now)
    assert sorted(p.name for p in removed) == sorted(names[3:])
    assert sorted(p.name for p in folder.iterdir()) == sorted([*names[:3], "unrelated.txt"])
    # Even an old archive survives if it is the only one.
    solo = tmp_path / "solo"
    solo.mkdir()
    (solo / names[4]).write_bytes(b"x")
    assert prune_backups(solo, 14, now) == []


def test_cli_backup_and_restore(sqlite_db: Database, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, sqlite_db)
    populate(sqlite_db, cfg)
    conf = tmp_path / "centralino.toml"
    conf.write_text(
        f'[paths]\nruntime_dir = "{tmp_path / "var"}"\nrecordings_dir = "{tmp_path / "rec"}"\n'
        f'[backup]\ntarget_dir = "{tmp_path / "bk"}"\nretention_days = 7\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENTRALINO_")}
    env["DATABASE_URL"] = sqlite_db.url
    cmd = [sys.executable, "-m", "centralino.cli", "--config", str(conf)]
    out = subprocess.run([*cmd, "backup"], env=env, capture_output=True, text=True, check=True)
    archive = Path(out.stdout.strip().splitlines()[-1])
    assert archive.parent == tmp_path / "bk" and archive.is_file()
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest["recordings"] == 3
    refused = subprocess.run(
        [*cmd, "restore", str(archive)], env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "the database is not empty" in refused.stderr and "--force" in refused.stderr
    ok = subprocess.run(
        [*cmd, "restore", "--force", str(archive)], env=env, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert "restored" in ok.stdout
