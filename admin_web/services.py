"""What the admin needs from the rest of the product, passed into ``create_app``.

Tests build a :class:`Services` around their own database; ``build_services``
makes the production one from the configuration, with the same LLM chain as the
phone (``agent.llm.factory.make_llm``: ``[llm]``); ``llm=None`` means the
engine's deterministic rules, exactly as the phone runs without an LLM.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any

from admin_web.asyncrunner import AsyncRunner
from agent.dialogue.factory import make_dialogue
from agent.llm.factory import make_llm
from centralino.accounts.service import AccountService, RateLimit
from centralino.calls.service import CallStore
from centralino.config import Config, ConfigError
from centralino.db.session import Database
from centralino.tenants.service import TenantService

log = logging.getLogger(__name__)


def optional_module(name: str) -> Any | None:
    """Import ``name`` if that module exists; a broken module still raises."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            return None
        raise


@dataclass
class Services:
    config: Config
    db: Database
    accounts: AccountService
    tenants: TenantService
    calls: CallStore
    runner: AsyncRunner = field(default_factory=AsyncRunner)
    # agent.dialogue.factory.make_dialogue(tenant, caller_id, in_business_hours, llm=None)
    make_dialogue: Any | None = None
    # LLM client handed to make_dialogue (None: the engine's deterministic rules).
    llm: Any | None = None
    # Anything else a blueprint (API, analytics) wants to share.
    extra: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.runner.close()


def build_services(
    config: Config, db: Database | None = None, rate_limit: RateLimit | None = None
) -> Services:
    database = db or Database(config.database_url)
    extra: dict[str, Any] = {}
    try:
        # The same LLM chain as the phone ([llm] section), so the chat simulator
        # answers like a real call; None = the deterministic rules.
        llm = make_llm(config)
    except ConfigError as exc:
        log.error("LLM not available to the chat simulator (rules only): %s", exc)
        llm, extra["llm_error"] = None, str(exc)
    return Services(
        config=config,
        db=database,
        accounts=AccountService(database, rate_limit),
        tenants=TenantService(database),
        calls=CallStore(database),
        make_dialogue=make_dialogue,
        llm=llm,
        extra=extra,
    )


def current_services() -> Services:
    """The :class:`Services` of the app handling this request."""
    from flask import current_app

    return current_app.extensions["centralino"]
