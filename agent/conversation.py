"""The seam between a call session (pbx) and whatever talks to the caller (agent).

It lives in ``agent`` because calls flow pbx -> agent: pbx imports these protocols
and drives a Conversation; agent never imports pbx.

Audio everywhere inside the product is signed 16-bit little-endian mono PCM at
16 kHz ("slin16" in Asterisk terms), in 20 ms frames of 640 bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

SAMPLE_RATE = 16000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * 2 * FRAME_MS // 1000  # 640


@dataclass(frozen=True)
class CallContext:
    """Everything a conversation may know about the call. The tenant is explicit."""

    call_id: str
    tenant_id: int | None
    tenant_slug: str
    caller_id: str
    did: str
    # Snapshot of the tenant's receptionist settings (greeting, questions, voice...).
    tenant: dict[str, Any] = field(default_factory=dict)
    in_business_hours: bool = True


class AudioOut(Protocol):
    """Where a conversation sends audio towards the caller."""

    async def play(self, pcm: bytes) -> None:
        """Queue slin16 audio; returns once it is queued (not played)."""

    async def flush(self) -> None:
        """Drop queued, not yet played audio (barge-in)."""

    async def wait_played(self) -> None:
        """Return when everything queued so far has been played to the caller."""

    @property
    def speaking(self) -> bool:
        """True while queued audio is still being played."""
        ...


class CallControl(Protocol):
    """Actions a conversation may ask of the call session."""

    async def transfer(self, number: str) -> bool: ...

    async def hangup(self, reason: str = "") -> None: ...

    async def record_turn(self, speaker: str, text: str, **fields: Any) -> None: ...

    async def event(self, kind: str, **data: Any) -> None: ...


class Conversation(Protocol):
    """Runs one call's dialogue. ``audio_in`` ends when the caller hangs up."""

    async def run(
        self,
        ctx: CallContext,
        audio_in: AsyncIterator[bytes],
        audio_out: AudioOut,
        control: CallControl,
    ) -> dict[str, Any]:
        """Returns the call result, e.g. {"outcome": "lead", "lead": {...}}."""
        ...


class DtmfReceiver(Protocol):
    """Optional: a Conversation that also has this method gets the caller's DTMF keys.

    The call session forwards every ``ChannelDtmfReceived`` of the caller's channel.
    """

    async def send_dtmf(self, digit: str) -> None: ...


class ConversationFactory(Protocol):
    def __call__(self, ctx: CallContext) -> Conversation: ...
