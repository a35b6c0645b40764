"""Indexes the analytics queries need on tables other areas own.

Declared on the shared metadata (so ``create_all`` and autogenerate know them)
and created by the ``apikeys`` migration branch. Every analytics query filters
on one tenant and a time range, so each index leads with ``tenant_id``.
"""

from __future__ import annotations

from sqlalchemy import Index

from centralino.calls.models import Call, Turn
from centralino.leads.models import Lead

CALLS_TENANT_STARTED = Index(
    "ix_calls_tenant_started", Call.tenant_id, Call.started_at, Call.duration_s
)
TURNS_TENANT_AT = Index("ix_turns_tenant_at", Turn.tenant_id, Turn.at)
LEADS_TENANT_CREATED = Index("ix_leads_tenant_created", Lead.tenant_id, Lead.created_at)
