"""Real SIP test calls: the simulated caller (``centralino.simcaller``) dials one of
the agency's numbers through our Asterisk, speaks a chosen caller script, and the
admin then opens the call the platform stored (found by its SIP Call-ID)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l

from centralino.config import Config

DEMO_SCRIPT = Path(__file__).resolve().parents[2] / "centralino" / "simcaller" / "demo_call.json"

# Caller scripts offered on the page: id -> (label, script for place_call).
SCRIPTS: dict[str, tuple[Any, dict[str, Any] | Path]] = {
    "greeting": (
        _l("Listen to the greeting, say hello, hang up"),
        {
            "utterances": [{"text": "Buongiorno.", "wait_for_agent": True, "label": "saluto"}],
            "hangup_after_ms": 1500,
            "max_call_s": 60,
        },
    ),
    "buyer": (_l("Buyer: name, request, budget (demo call)"), DEMO_SCRIPT),
}
ANSWER_TIMEOUT_S = 15.0
# The longest script lasts max_call_s (90 s); the request waits a bit longer.
REQUEST_TIMEOUT_S = 150.0


@dataclass(frozen=True)
class SipTarget:
    host: str
    port: int


def sip_target(config: Config) -> SipTarget:
    """Where our Asterisk listens for SIP (the same default as ``centralino call``)."""
    from centralino.asterisk.settings import AsteriskSettings

    settings = config.section("asterisk", AsteriskSettings)
    host = settings.sip_bind if settings.sip_bind not in ("", "0.0.0.0", "::") else "127.0.0.1"
    return SipTarget(host, settings.sip_port)
