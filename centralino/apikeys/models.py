"""API keys: one row per issued key; only a SHA-256 digest of the secret is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from centralino.db.base import Base, UTCDateTime, utcnow


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    # Public, non-secret part of the key ("ck_" + 12 chars): finds the row without
    # scanning digests, and lets the admin show which key is which.
    prefix: Mapped[str] = mapped_column(String(24), unique=True)
    # hex SHA-256 of the whole key. The key has 256 bits of entropy, so a plain
    # digest (no slow KDF) is the right tool: nothing to brute-force.
    key_hash: Mapped[str] = mapped_column(String(64))
    # ["read"] or ["read", "write"].
    scopes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
