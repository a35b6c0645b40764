"""Dialogue states and the transitions allowed between them."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    GREETING = "greeting"  # greeting said, waiting for the caller's first words
    COLLECTING = "collecting"  # asking the tenant's questions
    FAQ = "faq"  # answering an off-topic question (then back to collecting)
    CONFIRMING = "confirming"  # summary read back, waiting for "sì"/corrections
    TRANSFERRING = "transferring"  # handing the call to a human
    CLOSING = "closing"  # goodbye said
    ENDED = "ended"  # nothing more to say


TRANSITIONS: dict[State, frozenset[State]] = {
    State.GREETING: frozenset(
        {State.COLLECTING, State.FAQ, State.CONFIRMING, State.TRANSFERRING, State.CLOSING}
    ),
    State.COLLECTING: frozenset(
        {State.COLLECTING, State.FAQ, State.CONFIRMING, State.TRANSFERRING, State.CLOSING}
    ),
    State.FAQ: frozenset({State.COLLECTING, State.CONFIRMING, State.TRANSFERRING, State.CLOSING}),
    State.CONFIRMING: frozenset(
        {State.CONFIRMING, State.COLLECTING, State.FAQ, State.TRANSFERRING, State.CLOSING}
    ),
    # A failed transfer goes back to taking a message.
    State.TRANSFERRING: frozenset({State.ENDED, State.COLLECTING, State.CLOSING}),
    State.CLOSING: frozenset({State.ENDED}),
    State.ENDED: frozenset(),
}


class InvalidTransition(RuntimeError):
    pass


class StateMachine:
    def __init__(self, initial: State = State.GREETING) -> None:
        self.state = initial
        self.history: list[State] = [initial]

    def go(self, target: State) -> None:
        if target not in TRANSITIONS[self.state]:
            raise InvalidTransition(f"{self.state} -> {target} is not allowed")
        self.state = target
        self.history.append(target)
