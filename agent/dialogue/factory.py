"""Build a call's dialogue from a tenant snapshot. The one entry point other areas use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.dialogue.engine import DialogueSettings, ReceptionistDialogue
from agent.extraction import Extractor
from agent.llm.base import LLMProvider
from agent.llm.chain import FallbackChain
from agent.llm.rules import RulesProvider


def make_dialogue(
    tenant: dict[str, Any],
    caller_id: str,
    in_business_hours: bool,
    llm: LLMProvider | None = None,
    clock: Callable[[], float] | None = None,
) -> ReceptionistDialogue:
    """A new :class:`~agent.dialogue.base.Dialogue` for one call.

    ``tenant`` is a plain dict snapshot of the Tenant row. ``llm`` is optional:
    None means rules only; a bare provider (e.g. Ollama) is wrapped in a
    :class:`FallbackChain` with the rules as last resort and the tenant's turn
    budget (``settings["dialogue"]["llm_budget_s"]``, default 0.6 s); a chain is
    used as given. ``clock`` (seconds, monotonic) timestamps the transcript.
    """
    if not isinstance(tenant, dict):
        raise TypeError("tenant must be a dict snapshot of the Tenant row")
    settings = DialogueSettings.from_tenant(tenant)
    if llm is not None and not isinstance(llm, FallbackChain):
        rules = RulesProvider(Extractor([str(z) for z in tenant.get("zones") or []]))
        llm = FallbackChain([llm], rules, budget_s=settings.llm_budget_s)
    return ReceptionistDialogue(
        tenant,
        caller_id=caller_id,
        in_business_hours=in_business_hours,
        llm=llm,
        clock=clock,
        settings=settings,
    )
