"""The ``accounts`` migration branch creates exactly what the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from centralino.db.models import Base
from centralino.db.session import Database

ACCOUNT_TABLES = {"users", "login_attempts", "audit_log"}


def test_accounts_tables_match_models(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)

    def table_of(diff: object) -> str:
        item = diff[0] if isinstance(diff, list) else diff
        for part in item if isinstance(item, tuple) else ():
            name = getattr(part, "name", None)
            table = getattr(part, "table", None)
            if table is not None and getattr(table, "name", None):
                return str(table.name)
            if isinstance(name, str) and name in ACCOUNT_TABLES:
                return name
            if isinstance(part, str) and part in ACCOUNT_TABLES:
                return part
        return ""

    ours = [d for d in diffs if table_of(d) in ACCOUNT_TABLES]
    assert ours == [], ours
    with db.engine.connect() as conn:
        names = set(db.engine.dialect.get_table_names(conn))
    assert names >= ACCOUNT_TABLES
