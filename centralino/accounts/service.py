"""Accounts: users with roles, login with rate limiting, and the audit log.

The web admin uses this; so does ``centralino admin create-user``. Every call
that changes configuration is expected to write an :class:`AuditEntry` through
:meth:`AccountService.audit` in the same transaction as the change.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from centralino.accounts.models import AuditEntry, LoginAttempt, User
from centralino.accounts.passwords import (
    generate_password,
    hash_password,
    password_problem,
    verify_password,
)
from centralino.db.base import utcnow
from centralino.db.session import Database
from centralino.tenants.models import Tenant

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")

# A dummy hash so a login for an unknown e-mail costs the same time as a real one
# (no user enumeration by timing).
_DUMMY_HASH = hash_password("centralino-dummy-password")


class Role(StrEnum):
    INSTALLATION_ADMIN = "installation_admin"  # every tenant, Asterisk settings
    AGENCY_ADMIN = "agency_admin"  # their tenant: users, settings, calls, leads
    AGENT = "agent"  # their tenant's calls and leads


class AccountError(ValueError):
    """Invalid account data; ``field`` names the offending input."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class Actor(Protocol):
    """Whoever makes a change: a User row or the web session's copy of it."""

    id: int
    email: str


class LoginRateLimited(Exception):
    """Too many failed logins for this e-mail or IP address recently."""


@dataclass(frozen=True)
class RateLimit:
    window: timedelta = timedelta(minutes=15)
    max_failures_per_email: int = 5
    max_failures_per_ip: int = 20


@dataclass(frozen=True)
class NewUser:
    user_id: int
    email: str
    # Set only when the password was generated: show it once, it is not stored.
    generated_password: str = ""


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


class AccountService:
    def __init__(self, db: Database, rate_limit: RateLimit | None = None) -> None:
        self.db = db
        self.rate_limit = rate_limit or RateLimit()

    # --- users -------------------------------------------------------------
    def create_user(
        self,
        email: str,
        role: str,
        tenant_id: int | None = None,
        password: str | None = None,
        *,
        actor: Actor | None = None,
        ip: str = "",
        session: Session | None = None,
    ) -> NewUser:
        """Create a user; with no password one is generated and returned once."""
        if session is None:
            with self.db.session() as s:
                return self.create_user(
                    email, role, tenant_id, password, actor=actor, ip=ip, session=s
                )
        email = normalize_email(email)
        if not _EMAIL.match(email) or len(email) > 254:
            raise AccountError(f"invalid e-mail address {email!r}", "email")
        try:
            role_value = Role(role)
        except ValueError:
            raise AccountError(
                f"unknown role {role!r} (one of: {', '.join(r.value for r in Role)})", "role"
            ) from None
        if role_value is Role.INSTALLATION_ADMIN:
            tenant_id = None
        else:
            if tenant_id is None:
                raise AccountError(f"role {role_value.value} needs a tenant", "tenant")
            if session.get(Tenant, tenant_id) is None:
                raise AccountError(f"tenant {tenant_id} does not exist", "tenant")
        generated = ""
        if password is None:
            password = generated = generate_password()
        problem = password_problem(password)
        if problem:
            raise AccountError(f"password must have {problem}", "password")
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            raise AccountError(f"a user with e-mail {email} already exists", "email")
        user = User(
            email=email,
            password_hash=hash_password(password),
            role=role_value.value,
            tenant_id=tenant_id,
            active=True,
        )
        session.add(user)
        session.flush()
        self.audit(
            session,
            actor,
            "user.create",
            "user",
            str(user.id),
            tenant_id=tenant_id,
            after=user_snapshot(user),
            ip=ip,
        )
        return NewUser(user.id, email, generated)

    def set_active(
        self, session: Session, user: User, active: bool, *, actor: Actor | None, ip: str = ""
    ) -> None:
        before = user_snapshot(user)
        user.active = active
        self.audit(
            session,
            actor,
            "user.update",
            "user",
            str(user.id),
            tenant_id=user.tenant_id,
            before=before,
            after=user_snapshot(user),
            ip=ip,
        )

    def reset_password(
        self, session: Session, user: User, *, actor: Actor | None, ip: str = ""
    ) -> str:
        """Give ``user`` a new generated password and return it (shown once)."""
        password = generate_password()
        user.password_hash = hash_password(password)
        self.audit(
            session,
            actor,
            "user.reset_password",
            "user",
            str(user.id),
            tenant_id=user.tenant_id,
            ip=ip,
        )
        return password

    def set_password(self, user_id: int, password: str) -> None:
        problem = password_problem(password)
        if problem:
            raise AccountError(f"password must have {problem}", "password")
        with self.db.session() as s:
            user = s.get(User, user_id)
            if user is None:
                raise AccountError(f"user {user_id} does not exist", "user")
            user.password_hash = hash_password(password)
            self.audit(
                s, user, "user.change_password", "user", str(user.id), tenant_id=user.tenant_id
            )

    def get(self, user_id: int) -> User | None:
        with self.db.session() as s:
            return s.get(User, user_id)

    def count(self) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count(User.id))) or 0)

    # --- login -------------------------------------------------------------
    def authenticate(self, email: str, password: str, ip: str = "") -> User | None:
        """The active user for these credentials, or None.

        Raises :class:`LoginRateLimited` (without checking the password) when the
        e-mail or the IP address has too many recent failures. Every try is
        recorded, so the limit holds across processes and restarts.
        """
        email = normalize_email(email)[:254]
        ip = (ip or "")[:64]
        with self.db.session() as s:
            since = utcnow() - self.rate_limit.window
            failures = select(func.count(LoginAttempt.id)).where(
                LoginAttempt.at >= since, LoginAttempt.success.is_(False)
            )
            by_email = s.scalar(failures.where(LoginAttempt.email == email)) or 0
            by_ip = s.scalar(failures.where(LoginAttempt.ip == ip)) if ip else 0
            if (
                by_email >= self.rate_limit.max_failures_per_email
                or (by_ip or 0) >= self.rate_limit.max_failures_per_ip
            ):
                log.warning("login rate-limited for %s from %s", email, ip)
                raise LoginRateLimited(email)
            user = s.scalar(select(User).where(User.email == email))
            ok = verify_password(password, user.password_hash if user else _DUMMY_HASH)
            ok = ok and user is not None and user.active
            s.add(LoginAttempt(email=email, ip=ip, success=ok))
            if not ok or user is None:
                return None
            user.last_login_at = utcnow()
            return user

    # --- audit -------------------------------------------------------------
    def audit(
        self,
        session: Session,
        actor: Actor | None,
        action: str,
        object_type: str = "",
        object_id: str = "",
        *,
        tenant_id: int | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        ip: str = "",
        note: str = "",
    ) -> AuditEntry:
        entry = AuditEntry(
            user_id=actor.id if actor else None,
            user_email=actor.email if actor else "(command line)",
            tenant_id=tenant_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            before=before,
            after=after,
            ip=ip[:64],
            note=note,
        )
        session.add(entry)
        return entry


def user_snapshot(user: User) -> dict[str, Any]:
    """What the audit log records about a user (never the password hash)."""
    return {
        "email": user.email,
        "role": user.role,
        "tenant_id": user.tenant_id,
        "active": bool(user.active),
        "language": user.language or "",
    }
