"""One compressed archive per backup: database dump + recordings + manifest with checksums.

Layout of ``centralino-backup-<UTC time>.tar.gz``::

    database/centralino.sqlite   (SQLite online backup API: a consistent copy)
    database/centralino.pgdump   (or: pg_dump --format=custom, for PostgreSQL)
    recordings/<relative path>   (every file under the recordings folder)
    manifest.json                (last: format, version, dialect, sha256 + size of every file)

Restore verifies the WHOLE archive first (gzip/tar readable to the end, every
member listed in the manifest with the right size and sha256, nothing extra, the
dump itself readable) in a staging folder; only then does it touch the database,
and it refuses a database that has data (or recordings) unless ``force``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL

from centralino.config import Config
from centralino.db.session import Database

log = logging.getLogger(__name__)

FORMAT = "centralino-backup"
VERSION = 1
NAME_RE = re.compile(r"^centralino-backup-(\d{8}T\d{6}Z)\.tar\.gz$")
# Bookkeeping tables that exist in an empty, migrated database.
_BOOKKEEPING = {"alembic_version", "apscheduler_jobs", "scheduler_leases"}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class BackupSettings:
    """``[backup]``."""

    # Empty: <runtime_dir>/backups.
    target_dir: Path = Path("")
    retention_days: int = 14
    pg_dump: str = "pg_dump"
    pg_restore: str = "pg_restore"


class BackupError(RuntimeError):
    """A backup could not be made, or an archive cannot be restored (the message says why)."""


def target_dir(config: Config) -> Path:
    folder = config.section("backup", BackupSettings).target_dir
    if str(folder) in ("", "."):
        return config.runtime_dir / "backups"
    return folder.resolve()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _pg_conninfo(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password (that goes in PGPASSWORD, not the process list)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise BackupError(
            f"{cmd[0]} not found: install the PostgreSQL client (Debian package postgresql-client)"
        ) from exc
    if proc.returncode != 0:
        raise BackupError(
            f"{what} failed ({cmd[0]} exit {proc.returncode}): {proc.stderr.strip()[-2000:]}"
        )


def _check_pg_tools(db: Database, settings: BackupSettings) -> None:
    """pg_dump must be at least the server's major version, or it refuses to dump."""
    with db.engine.connect() as c:
        server = int(c.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    try:
        out = subprocess.run(
            [settings.pg_dump, "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        raise BackupError(
            f"{settings.pg_dump} not usable ({exc}): install postgresql-client {server} or newer"
        ) from exc
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    client = int(match.group(1)) if match else 0
    if client < server:
        raise BackupError(
            f"pg_dump {client} is older than the PostgreSQL server {server}: "
            f"install postgresql-client-{server}"
        )


def _row_counts(db: Database) -> dict[str, int]:
    counts: dict[str, int] = {}
    insp = inspect(db.engine)
    with db.engine.connect() as c:
        for table in sorted(insp.get_table_names()):
            quoted = db.engine.dialect.identifier_preparer.quote(table)
            counts[table] = int(c.execute(text(f"SELECT COUNT(*) FROM {quoted}")).scalar_one())
    return counts


def create_backup(
    db: Database, config: Config, folder: Path | None = None, now: datetime | None = None
) -> Path:
    """Write a verified archive into ``folder`` (default: [backup] target_dir); returns its path."""
    settings = config.section("backup", BackupSettings)
    out_dir = (folder or target_dir(config)).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    now = now or datetime.now(UTC)
    name = f"centralino-backup-{now.strftime('%Y%m%dT%H%M%SZ')}.tar.gz"
    final = out_dir / name
    dialect = db.engine.dialect.name
    recordings = config.recordings_dir
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".backup-") as tmp:
        work = Path(tmp)
        members: list[tuple[str, Path]] = []
        if dialect == "sqlite":
            src_path = db.engine.url.database
            if not src_path or src_path == ":memory:":
                raise BackupError("cannot back up an in-memory SQLite database")
            dump = work / "centralino.sqlite"
            src = sqlite3.connect(src_path)
            dst = sqlite3.connect(dump)
            try:
                # The online backup API copies a consistent snapshot while others write.
                src.backup(dst)
            finally:
                dst.close()
                src.close()
            members.append(("database/centralino.sqlite", dump))
        elif dialect == "postgresql":
            _check_pg_tools(db, settings)
            dump = work / "centralino.pgdump"
            conninfo, env = _pg_conninfo(db.engine.url)
            _run(
                [
                    settings.pg_dump,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={dump}",
                    conninfo,
                ],
                env,
                "pg_dump",
            )
            members.append(("database/centralino.pgdump", dump))
        else:
            raise BackupError(f"unsupported database {dialect}")
        if recordings.is_dir():
            for path in sorted(recordings.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    members.append((f"recordings/{path.relative_to(recordings).as_posix()}", path))
        files = [
            {"path": arc, "size": p.stat().st_size, "sha256": _sha256(p)} for arc, p in members
        ]
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": now.isoformat(),
            "database": {"dialect": dialect, "file": members[0][0], "row_counts": _row_counts(db)},
            "recordings": sum(1 for f in files if str(f["path"]).startswith("recordings/")),
            "files": files,
        }
        partial = work / (name + ".partial")
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            for (arc, path), meta in zip(members, files, strict=True):
                info = tar.gettarinfo(str(path), arcname=arc)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o600
                info.size = int(meta["size"])  # type: ignore[call-overload]
                with path.open("rb") as f:
                    tar.addfile(info, f)
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mode, info.mtime = len(data), 0o600, int(now.timestamp())
            tar.addfile(info, io.BytesIO(data))
        os.chmod(partial, 0o600)
        # Read it back before calling it a backup.
        verify_archive(partial)
        os.replace(partial, final)
    log.info("backup written: %s (%d recordings)", final, manifest["recordings"])
    return final


@contextmanager
def _staged(archive: Path, parent: Path | None = None) -> Iterator[tuple[dict[str, Any], Path]]:
    """Extract and verify the whole archive into a temporary folder."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"{archive}: no such backup file")
    with tempfile.TemporaryDirectory(dir=parent, prefix=".restore-") as tmp:
        stage = Path(tmp)
        found: dict[str, tuple[int, str]] = {}
        manifest_raw: bytes | None = None
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar:
                    name = member.name
                    if not member.isfile():
                        raise BackupError(
                            f"{archive}: unexpected entry {name!r} (not a regular file)"
                        )
                    parts = Path(name).parts
                    if name.startswith("/") or ".." in parts or not parts:
                        raise BackupError(f"{archive}: unsafe path {name!r} in archive")
                    src = tar.extractfile(member)
                    assert src is not None
                    if name == "manifest.json":
                        manifest_raw = src.read()
                        continue
                    dest = stage / name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    h, size = hashlib.sha256(), 0
                    with dest.open("wb") as out:
                        while chunk := src.read(_CHUNK):
                            h.update(chunk)
                            size += len(chunk)
                            out.write(chunk)
                    if name in found:
                        raise BackupError(f"{archive}: {name!r} appears twice")
                    found[name] = (size, h.hexdigest())
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise BackupError(
                f"{archive} is corrupt or truncated ({type(exc).__name__}: {exc});"
                " nothing was restored"
            ) from exc
        if manifest_raw is None:
            raise BackupError(
                f"{archive} has no manifest.json (truncated or not a Centralino backup)"
            )
        try:
            manifest = json.loads(manifest_raw)
        except ValueError as exc:
            raise BackupError(f"{archive}: manifest.json is not valid JSON ({exc})") from exc
        if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            raise BackupError(
                f"{archive} is not a Centralino backup (format {manifest.get('format')!r},"
                f" version {manifest.get('version')!r})"
            )
        listed = {f["path"]: (int(f["size"]), str(f["sha256"])) for f in manifest.get("files", [])}
        missing = sorted(set(listed) - set(found))
        extra = sorted(set(found) - set(listed))
        if missing:
            raise BackupError(
                f"{archive}: {len(missing)} file(s) missing, e.g. {missing[0]!r} (truncated?)"
            )
        if extra:
            raise BackupError(f"{archive}: file(s) not in the manifest, e.g. {extra[0]!r}")
        for path, (size, digest) in listed.items():
            if found[path] != (size, digest):
                raise BackupError(
                    f"{archive}: checksum mismatch for {path!r}: the archive is corrupt"
                )
        db_file = manifest.get("database", {}).get("file")
        if db_file not in found:
            raise BackupError(f"{archive}: manifest names no database dump")
        yield manifest, stage


def verify_archive(archive: Path) -> dict[str, Any]:
    """Check an archive end to end without restoring it; returns its manifest."""
    with _staged(archive, Path(archive).resolve().parent) as (manifest, stage):
        _verify_dump(manifest, stage)
        return manifest


def _verify_dump(
    manifest: dict[str, Any], stage: Path, settings: BackupSettings | None = None
) -> None:
    db_info = manifest["database"]
    dump = stage / db_info["file"]
    if db_info["dialect"] == "sqlite":
        try:
            con = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
            try:
                result = con.execute("PRAGMA integrity_check").fetchone()
            finally:
                con.close()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"the database in the backup is unreadable: {exc}") from exc
        if not result or result[0] != "ok":
            raise BackupError(f"the database in the backup fails its integrity check: {result}")
    elif db_info["dialect"] == "postgresql":
        tool = (settings or BackupSettings()).pg_restore
        if shutil.which(tool) is None:
            return  # verified by checksum; the dump is checked again when restoring
        _run([tool, "--list", str(dump)], dict(os.environ), "reading the PostgreSQL dump")


def database_has_data(db: Database) -> dict[str, int]:
    """Tables (besides bookkeeping) that have rows."""
    return {t: n for t, n in _row_counts(db).items() if n and t not in _BOOKKEEPING}


def restore_backup(
    db: Database, config: Config, archive: Path, force: bool = False
) -> dict[str, Any]:
    """Verify ``archive`` completely, then replace the database and the recordings with it."""
    settings = config.section("backup", BackupSettings)
    recordings = config.recordings_dir
    stage_parent = config.runtime_dir
    stage_parent.mkdir(parents=True, exist_ok=True)
    with _staged(Path(archive), stage_parent) as (manifest, stage):
        _verify_dump(manifest, stage, settings)
        dialect = manifest["database"]["dialect"]
        if dialect != db.engine.dialect.name:
            raise BackupError(
                f"the backup is of a {dialect} database, the configured one is "
                f"{db.engine.dialect.name}: nothing was restored"
            )
        if not force:
            busy = database_has_data(db)
            if busy:
                sample = ", ".join(f"{t}={n}" for t, n in sorted(busy.items())[:4])
                raise BackupError(
                    f"the database is not empty ({sample}): use --force to overwrite it"
                )
            if recordings.is_dir() and any(p.is_file() for p in recordings.rglob("*")):
                raise BackupError(
                    f"the recordings folder {recordings} is not empty: use --force to overwrite it"
                )
        dump = stage / manifest["database"]["file"]
        if dialect == "sqlite":
            _restore_sqlite(db, dump)
        else:
            conninfo, env = _pg_conninfo(db.engine.url)
            db.dispose()
            # One transaction: if anything fails the database stays as it was.
            _run(
                [
                    settings.pg_restore,
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--no-privileges",
                    "--single-transaction",
                    "--exit-on-error",
                    f"--dbname={conninfo}",
                    str(dump),
                ],
                env,
                "pg_restore",
            )
        _restore_recordings(stage / "recordings", recordings, force)
    log.info("restored %s (%s, %d recordings)", archive, dialect, manifest["recordings"])
    return manifest


def _restore_sqlite(db: Database, dump: Path) -> None:
    target = db.engine.url.database
    if not target or target == ":memory:":
        raise BackupError("cannot restore into an in-memory SQLite database")
    db.dispose()
    src = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=30)
    try:
        # The backup API replaces the target's pages in one write transaction.
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _restore_recordings(staged: Path, recordings: Path, force: bool) -> None:
    if not staged.is_dir():
        return
    recordings.mkdir(parents=True, exist_ok=True)
    for path in sorted(staged.rglob("*")):
        if path.is_file():
            dest = recordings / path.relative_to(staged)
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".restoring")
            shutil.copy2(path, tmp)
            os.replace(tmp, dest)


def prune_backups(folder: Path, retention_days: int, now: datetime | None = None) -> list[Path]:
    """Delete archives older than ``retention_days`` (time in their name); keeps the newest."""
    now = now or datetime.now(UTC)
    if not folder.is_dir() or retention_days <= 0:
        return []
    archives = []
    for path in folder.iterdir():
        match = NAME_RE.match(path.name)
        if match and path.is_file():
            when = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            archives.append((when, path))
    archives.sort()
    removed = []
    for when, path in archives[:-1]:  # never the newest one
        if now - when > timedelta(days=retention_days):
            path.unlink()
            removed.append(path)
            log.info("old backup removed: %s", path)
    return removed


def run_backup(
    db: Database, config: Config, folder: Path | None = None, retention_days: int | None = None
) -> tuple[Path, list[Path]]:
    """What ``centralino backup`` and the daily job do: back up, then apply retention."""
    settings = config.section("backup", BackupSettings)
    path = create_backup(db, config, folder)
    days = settings.retention_days if retention_days is None else retention_days
    return path, prune_backups(path.parent, days)
