"""Text-level dialogue interface: what the voice pipeline and the chat simulator drive.

The engine knows nothing about audio. The voice pipeline (agent/voice) turns caller
speech into :class:`Utterance` and speaks each :class:`Reply`; the admin chat
simulator and the public API feed text directly. Both get the same behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Action(StrEnum):
    CONTINUE = "continue"  # keep listening
    TRANSFER = "transfer"  # hand the call to a human (Reply.transfer_to)
    HANGUP = "hangup"  # say the reply, then end the call


@dataclass(frozen=True)
class Utterance:
    text: str
    confidence: float | None = None
    # "speech" | "dtmf" | "silence" (no speech within the listening timeout)
    kind: str = "speech"


@dataclass
class LeadDraft:
    """The lead as it forms during the call. Budgets in whole euros."""

    name: str = ""
    phone: str = ""
    request_type: str = ""  # buy | sell | rent | valuation
    property_type: str = ""
    zone: str = ""
    budget_min: int | None = None
    budget_max: int | None = None
    urgency: str = ""  # high | medium | low
    timing: str = ""  # the caller's words behind the urgency: "entro l'estate"
    callback_time: str = ""
    notes: str = ""
    confidence: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Reply:
    # Sentences to speak in order (streamed one by one).
    sentences: list[str]
    action: Action = Action.CONTINUE
    transfer_to: str = ""
    provider: str = "rules"  # which LLM provider produced it
    llm_ms: float | None = None

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


class Dialogue(Protocol):
    """One conversation. Create one per call with the tenant's settings."""

    lead: LeadDraft

    async def start(self) -> Reply:
        """The greeting (and first question)."""
        ...

    async def handle(self, utterance: Utterance) -> Reply: ...

    def result(self) -> dict[str, Any]:
        """{"outcome": "lead"|"completed"|..., "lead": LeadDraft.as_dict(), ...}"""
        ...
