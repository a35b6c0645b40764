"""Tenant management: validation, DID resolution, loading agencies from a file."""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from centralino.db.session import Database
from centralino.tenants.defaults import (
    DEFAULT_BUSINESS_HOURS,
    DEFAULT_GREETING,
    DEFAULT_PROMPT_TEMPLATE,
    DEFAULT_QUESTIONS,
)
from centralino.tenants.models import PhoneNumber, Tenant
from centralino.tenants.phone import InvalidPhoneNumber, normalize_e164

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# The receptionist's per-tenant knobs, ``settings["dialogue"]`` (read at call time by
# agent.dialogue.engine.DialogueSettings, which has the defaults): their kinds.
DIALOGUE_SETTINGS: dict[str, type] = {
    "max_silences": int,
    "max_asks": int,
    "max_confirm_rounds": int,
    "llm_budget_s": float,
    "confirm": bool,
    "llm_answers": bool,
}
_WHOLE = re.compile(r"^\s*\d+\s*$")
_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")


class TenantError(ValueError):
    """Invalid tenant data; ``field`` names the offending setting."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TenantSpec:
    """Validated input for creating or updating a tenant."""

    slug: str
    name: str
    numbers: list[str]
    greeting: str = ""
    prompt_template: str = ""
    questions: list[dict[str, Any]] = field(default_factory=list)
    faq: list[dict[str, Any]] = field(default_factory=list)
    zones: list[str] = field(default_factory=list)
    premium_zones: list[str] = field(default_factory=list)
    vocabulary: list[str] = field(default_factory=list)
    voice: dict[str, Any] = field(default_factory=dict)
    business_hours: dict[str, Any] = field(default_factory=dict)
    holidays: list[str] = field(default_factory=list)
    transfer_number: str = ""
    timezone: str = "Europe/Rome"
    settings: dict[str, Any] = field(default_factory=dict)


_SPEC_KEYS = set(TenantSpec.__dataclass_fields__)


def parse_spec(data: dict[str, Any], where: str = "tenant") -> TenantSpec:
    unknown = sorted(set(data) - _SPEC_KEYS)
    if unknown:
        raise TenantError(f"{where}: unknown field(s) {', '.join(unknown)}", unknown[0])
    slug = str(data.get("slug", "")).strip()
    if not _SLUG.match(slug):
        raise TenantError(f"{where}: slug {slug!r} must be lowercase letters, digits, '-'", "slug")
    name = str(data.get("name", "")).strip()
    if not name or len(name) > 200:
        raise TenantError(f"{where}: name is required (at most 200 characters)", "name")
    raw_numbers = data.get("numbers", [])
    if not isinstance(raw_numbers, list):
        raise TenantError(f"{where}: numbers must be a list", "numbers")
    numbers: list[str] = []
    for raw in raw_numbers:
        try:
            e164 = normalize_e164(str(raw))
        except InvalidPhoneNumber as exc:
            raise TenantError(f"{where}: invalid DID {raw!r}: {exc}", "numbers") from None
        if e164 in numbers:
            raise TenantError(f"{where}: DID {e164} listed twice", "numbers")
        numbers.append(e164)
    transfer = str(data.get("transfer_number", "") or "")
    if transfer:
        try:
            transfer = normalize_e164(transfer)
        except InvalidPhoneNumber as exc:
            raise TenantError(
                f"{where}: invalid transfer_number: {exc}", "transfer_number"
            ) from None
    questions = data.get("questions") or [dict(q) for q in DEFAULT_QUESTIONS]
    for i, q in enumerate(questions):
        if not isinstance(q, dict) or not str(q.get("key", "")).strip():
            raise TenantError(f"{where}: question {i + 1} needs a key", "questions")
        if not str(q.get("text", "")).strip():
            raise TenantError(f"{where}: question {q.get('key')!r} has no text", "questions")
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise TenantError(f"{where}: settings must be a table", "settings")
    # Checked here, when the tenant is saved: at call time a bad value is only logged
    # and its default used, so the agency would never learn of it.
    errors = dialogue_settings_errors(settings.get("dialogue"))
    if errors:
        key, message = next(iter(errors.items()))
        raise TenantError(f"{where}: {message}", f"settings.dialogue.{key}".rstrip("."))
    kwargs = {k: v for k, v in data.items() if k in _SPEC_KEYS}
    kwargs.update(
        slug=slug,
        name=name,
        numbers=numbers,
        transfer_number=transfer,
        questions=questions,
        greeting=str(data.get("greeting") or DEFAULT_GREETING.format(agency=name)),
        prompt_template=str(data.get("prompt_template") or DEFAULT_PROMPT_TEMPLATE),
        business_hours=data.get("business_hours") or DEFAULT_BUSINESS_HOURS,
    )
    return TenantSpec(**kwargs)


def parse_dialogue_setting(key: str, value: Any) -> bool | int | float:
    """``settings.dialogue.<key>`` as the dialogue uses it, or ValueError naming the key.

    A switch must be a real true/false (``bool("false")`` is True); a number must be
    a positive number, never a true/false (``True`` would be 1); a digit string
    ("2", "0.8") is read as the number it spells.
    """
    kind = DIALOGUE_SETTINGS.get(key)
    where = f"settings.dialogue.{key}"
    if kind is None:
        raise ValueError(f"{where} is not a dialogue setting")
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, not {value!r}")
        return value
    if kind is int:
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
        if not ok and not (isinstance(value, str) and _WHOLE.match(value)):
            raise ValueError(f"{where} must be a whole number, not {value!r}")
        number: int | float = int(value)
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok and not (isinstance(value, str) and _NUMBER.match(value)):
            raise ValueError(f"{where} must be a number, not {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{where} must be a number, not {value!r}")
    if number <= 0:
        raise ValueError(f"{where} must be more than zero, not {value!r}")
    return number


def dialogue_settings_errors(raw: Any) -> dict[str, str]:
    """Every problem of a tenant's ``settings["dialogue"]``, by key (empty: valid).
    Used when a tenant is saved; at call time a bad key falls back to its default."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        return {"": f"settings.dialogue must be a table, not {raw!r}"}
    errors = {}
    for key, value in raw.items():
        try:
            parse_dialogue_setting(str(key), value)
        except ValueError as exc:
            errors[str(key)] = str(exc)
    return errors


class TenantService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def upsert(self, spec: TenantSpec, session: Session | None = None) -> int:
        """Create or update a tenant. Duplicate DIDs across tenants are refused."""
        if session is None:
            with self.db.session() as s:
                return self.upsert(spec, s)
        tenant = session.scalar(select(Tenant).where(Tenant.slug == spec.slug))
        owners = session.execute(
            select(PhoneNumber.e164, Tenant.slug)
            .join(Tenant)
            .where(PhoneNumber.e164.in_(spec.numbers))
        ).all()
        for e164, owner in owners:
            if owner != spec.slug:
                raise TenantError(f"DID {e164} already belongs to tenant {owner!r}", "numbers")
        if tenant is None:
            tenant = Tenant(slug=spec.slug)
            session.add(tenant)
        for key in _SPEC_KEYS - {"slug", "numbers"}:
            setattr(tenant, key, getattr(spec, key))
        existing = {n.e164: n for n in tenant.numbers}
        tenant.numbers = [existing.get(e) or PhoneNumber(e164=e) for e in spec.numbers]
        session.flush()
        return tenant.id

    def by_did(self, did: str, session: Session | None = None) -> Tenant | None:
        """The active tenant owning ``did`` (any dialable shape), or None."""
        try:
            e164 = normalize_e164(did)
        except InvalidPhoneNumber:
            return None
        if session is None:
            with self.db.session() as s:
                return self.by_did(did, s)
        return session.scalar(
            select(Tenant)
            .join(PhoneNumber)
            .where(PhoneNumber.e164 == e164, Tenant.active.is_(True))
            .options(selectinload(Tenant.numbers))
        )

    def get(self, tenant_id: int) -> Tenant | None:
        with self.db.session() as s:
            return s.get(Tenant, tenant_id, options=[selectinload(Tenant.numbers)])

    def all(self) -> list[Tenant]:
        with self.db.session() as s:
            return list(
                s.scalars(
                    select(Tenant).options(selectinload(Tenant.numbers)).order_by(Tenant.slug)
                )
            )

    def load_file(self, path: Path) -> list[int]:
        """Load ``[[tenant]]`` tables from a TOML file; all or nothing."""
        specs = read_tenant_file(path)
        with self.db.session() as s:
            return [self.upsert(spec, s) for spec in specs]


def read_tenant_file(path: Path) -> list[TenantSpec]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TenantError(f"cannot read tenant file {path}: {exc}") from exc
    items = data.get("tenant", [])
    if not isinstance(items, list) or not items:
        raise TenantError(f"{path}: expected one or more [[tenant]] tables")
    specs = [parse_spec(item, f"{path} tenant {i + 1}") for i, item in enumerate(items)]
    seen: dict[str, str] = {}
    for spec in specs:
        for did in spec.numbers:
            if did in seen:
                raise TenantError(
                    f"{path}: DID {did} is assigned to both {seen[did]!r} and {spec.slug!r}",
                    "numbers",
                )
            seen[did] = spec.slug
    return specs
