"""Issue, check, list and revoke per-tenant API keys.

A key looks like ``ck_3f9a1c0b7d2e_<43 url-safe chars>``. The part up to the
second underscore is its public prefix (stored, shown in the admin); the whole
key is shown once at creation and only its SHA-256 digest is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from centralino.apikeys.models import ApiKey
from centralino.db.base import utcnow
from centralino.db.session import Database

SCOPES = ("read", "write")
# last_used_at is a hint for the admin, not an audit trail: writing it on every
# request would turn each API read into a write.
TOUCH_EVERY = timedelta(minutes=1)


class ApiKeyError(ValueError):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ApiKeyInfo:
    id: int
    tenant_id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True)
class NewApiKey:
    info: ApiKeyInfo
    # The only time the full key exists outside the caller's hands.
    secret: str


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes or ()),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def parse_scopes(raw: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    items = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
    scopes = tuple(s for s in SCOPES if s in items)
    unknown = sorted(set(items) - set(SCOPES))
    if unknown:
        raise ApiKeyError(f"unknown scope(s) {', '.join(unknown)} (use read, write)", "scopes")
    if not scopes:
        raise ApiKeyError("at least one scope is required (read, write)", "scopes")
    # Writing implies reading what you wrote.
    return ("read", "write") if "write" in scopes else scopes


class ApiKeyService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self, tenant_id: int, name: str, scopes: str | list[str] | tuple[str, ...]
    ) -> NewApiKey:
        name = (name or "").strip()
        if not name or len(name) > 100 or any(ord(c) < 32 for c in name):
            raise ApiKeyError("name is required (at most 100 characters, one line)", "name")
        parsed = parse_scopes(scopes)
        prefix = "ck_" + secrets.token_hex(6)
        key = f"{prefix}_{secrets.token_urlsafe(32)}"
        with self.db.session() as s:
            row = ApiKey(
                tenant_id=tenant_id,
                name=name,
                prefix=prefix,
                key_hash=_digest(key),
                scopes=list(parsed),
                created_at=utcnow(),
            )
            s.add(row)
            s.flush()
            return NewApiKey(_info(row), key)

    def authenticate(self, key: str) -> ApiKeyInfo | None:
        """The active key matching ``key``, or None (unknown, malformed, revoked)."""
        parts = (key or "").split("_")
        if len(parts) < 3 or parts[0] != "ck" or len(key) > 200:
            return None
        prefix = f"ck_{parts[1]}"
        with self.db.session() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
            if row is None or not hmac.compare_digest(row.key_hash, _digest(key)):
                return None
            if row.revoked_at is not None:
                return None
            now = utcnow()
            if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
                row.last_used_at = now
            return _info(row)

    def for_tenant(self, tenant_id: int) -> list[ApiKeyInfo]:
        with self.db.session() as s:
            rows = s.scalars(
                select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id)
            )
            return [_info(r) for r in rows]

    def revoke(self, tenant_id: int, key_id: int) -> bool:
        """Revoke a key of this tenant; False if it has no such key."""
        with self.db.session() as s:
            row = s.get(ApiKey, key_id)
            if row is None or row.tenant_id != tenant_id:
                return False
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            return True

    def revoke_prefix(self, prefix: str) -> ApiKeyInfo | None:
        with self.db.session() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            return _info(row)
