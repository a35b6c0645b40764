"""Backups of the database and the call recordings (``centralino backup`` / ``restore``)."""

from centralino.backup.archive import (
    BackupError,
    BackupSettings,
    create_backup,
    prune_backups,
    restore_backup,
    verify_archive,
)

__all__ = [
    "BackupError",
    "BackupSettings",
    "create_backup",
    "prune_backups",
    "restore_backup",
    "verify_archive",
]
