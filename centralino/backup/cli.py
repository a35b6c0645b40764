"""``centralino backup`` and ``centralino restore``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from centralino.backup.archive import BackupError, restore_backup, run_backup


@click.command("backup")
@click.option(
    "--target",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the archive (default: [backup] target_dir)",
)
@click.option(
    "--retention-days",
    type=int,
    default=None,
    help="Delete archives older than this (default: [backup] retention_days)",
)
@click.pass_obj
def backup(ctx: Any, target: Path | None, retention_days: int | None) -> None:
    """Back up the database and the recordings into one verified archive."""
    try:
        path, removed = run_backup(ctx.db, ctx.config, target, retention_days)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(path))
    for old in removed:
        click.echo(f"removed old backup {old}")


@click.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite a database/recordings folder that has data")
@click.pass_obj
def restore(ctx: Any, archive: Path, force: bool) -> None:
    """Restore a backup archive (verified completely before anything is touched)."""
    try:
        manifest = restore_backup(ctx.db, ctx.config, archive, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"restored {archive} (made {manifest['created_at']}, {manifest['recordings']} recordings)"
    )
    # A backup made by an older version gets the newer migrations applied.
    ctx.db.upgrade()
    click.echo("database schema up to date")
