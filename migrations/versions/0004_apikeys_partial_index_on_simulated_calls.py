"""partial index on simulated calls

Revision ID: 0004_apikeys
Revises: 0003_apikeys
Create Date: 2026-11-28 03:00:00.785323
"""
from alembic import op
import sqlalchemy as sa
import centralino.db.base


revision = '0004_apikeys'
down_revision = '0003_apikeys'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Partial index: simulated calls are rare; the analytics add them to the
    # stored (real-call) days without reading every call of the range.
    op.create_index(
        'ix_calls_simulated', 'calls', ['tenant_id', 'started_at'],
        sqlite_where=sa.text('simulated = 1'), postgresql_where=sa.text('simulated'),
    )


def downgrade() -> None:
    op.drop_index('ix_calls_simulated', table_name='calls')
