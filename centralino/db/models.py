"""Imports every model module so ``Base.metadata`` is complete (Alembic, create_all).

Each area adds its own ``models.py`` and one import line here.
"""

from centralino.accounts.models import AuditEntry, LoginAttempt, User  # noqa: F401
from centralino.analytics import models as _analytics_indexes  # noqa: F401
from centralino.apikeys.models import ApiKey  # noqa: F401
from centralino.calls.models import Call, CallEvent, Turn
from centralino.db.base import Base
from centralino.delivery.models import Delivery, SchedulerLease
from centralino.leads.models import Lead
from centralino.sentiment.models import CallSentiment  # noqa: F401
from centralino.tenants.models import PhoneNumber, Tenant

__all__ = [
    "Base",
    "Call",
    "CallEvent",
    "Delivery",
    "Lead",
    "PhoneNumber",
    "SchedulerLease",
    "Tenant",
    "Turn",
]
