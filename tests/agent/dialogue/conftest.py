"""A demo tenant snapshot and a scripted text caller for the dialogue tests."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from agent.dialogue.base import Action, Reply, Utterance
from agent.dialogue.factory import make_dialogue
from centralino.tenants.defaults import DEFAULT_GREETING, DEFAULT_PROMPT_TEMPLATE, DEFAULT_QUESTIONS

TENANT: dict[str, Any] = {
    "id": 1,
    "slug": "demo",
    "name": "Immobiliare Demo",
    "greeting": DEFAULT_GREETING,
    "prompt_template": DEFAULT_PROMPT_TEMPLATE,
    "questions": DEFAULT_QUESTIONS,
    "faq": [
        {
            "question": "orari di apertura",
            "answer": "Siamo aperti dal lunedì al venerdì dalle 9 alle 19.",
        },
        {"question": "dove si trova l'agenzia", "answer": "Siamo in via Roma 1, a Milano."},
        {"question": "la valutazione è gratuita?", "answer": "Sì, la valutazione è gratuita."},
    ],
    "zones": ["Navigli", "Porta Romana", "Città Studi", "Brera", "Isola", "Lambrate"],
    "premium_zones": ["Brera"],
    "vocabulary": ["bilocale", "trilocale"],
    "transfer_number": "+390212345600",
    "business_hours": {},
    "holidays": [],
    "timezone": "Europe/Rome",
    "settings": {},
}
CALLER = "+393331112222"


class Call:
    """Drives one dialogue like the voice pipeline does, keeping every reply."""

    def __init__(self, dialogue: Any) -> None:
        self.d = dialogue
        self.replies: list[Reply] = []

    async def start(self) -> Reply:
        reply = await self.d.start()
        self.replies.append(reply)
        return reply

    async def say(self, text: str, kind: str = "speech", confidence: float = 0.9) -> Reply:
        reply = await self.d.handle(Utterance(text, confidence, kind))
        self.replies.append(reply)
        return reply

    async def script(self, lines: list[str]) -> Reply:
        reply = self.replies[-1] if self.replies else await self.start()
        for line in lines:
            assert reply.action == Action.CONTINUE, f"call ended before {line!r}: {reply}"
            reply = await self.say(line)
        return reply


@pytest.fixture
def tenant() -> dict[str, Any]:
    return copy.deepcopy(TENANT)


@pytest.fixture
def call(tenant):
    async def make(
        caller: str = CALLER, hours: bool = True, t: dict[str, Any] | None = None, **kw: Any
    ) -> Call:
        c = Call(make_dialogue(t or tenant, caller, hours, **kw))
        await c.start()
        return c

    return make
