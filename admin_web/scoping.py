"""Tenant isolation and role checks, enforced in the queries.

Every view that reads tenant data builds its query through :func:`scoped` or
:func:`get_or_404`, so a user of agency A asking for an object of agency B gets
a 404 from the database query itself, whatever the template does.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from centralino.accounts.service import Role

F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S", bound=Select[Any])


def tenant_scope() -> int | None:
    """The tenant the current user is confined to; None for installation admins."""
    if not current_user.is_authenticated:
        abort(401)
    if current_user.role == Role.INSTALLATION_ADMIN:
        return None
    if current_user.tenant_id is None:  # a tenant user without tenant sees nothing
        abort(403)
    return int(current_user.tenant_id)


def scoped(stmt: S, tenant_column: Any) -> S:
    """Add "tenant_column = my tenant" to ``stmt`` unless the user sees all tenants."""
    scope = tenant_scope()
    if scope is None:
        return stmt
    return stmt.where(tenant_column == scope)


def get_or_404(session: Session, model: Any, object_id: Any, tenant_column: Any = None) -> Any:
    """Load ``model`` by primary key within the user's tenant, else 404."""
    column = tenant_column if tenant_column is not None else model.tenant_id
    pk = model.__mapper__.primary_key[0]
    try:
        key = pk.type.python_type(object_id)
    except (TypeError, ValueError):
        abort(404)
    obj = session.scalar(scoped(select(model).where(pk == key), column))
    if obj is None:
        abort(404)
    return obj


def is_installation_admin() -> bool:
    return bool(current_user.is_authenticated and current_user.role == Role.INSTALLATION_ADMIN)


def can_manage_tenant() -> bool:
    """Agency admins and installation admins change settings and users."""
    return bool(
        current_user.is_authenticated
        and current_user.role in (Role.INSTALLATION_ADMIN, Role.AGENCY_ADMIN)
    )


def require_role(*roles: Role) -> Callable[[F], F]:
    """403 unless the current user has one of ``roles``."""
    allowed = {r.value for r in roles}

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                abort(401)
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


ADMINS = (Role.INSTALLATION_ADMIN, Role.AGENCY_ADMIN)
