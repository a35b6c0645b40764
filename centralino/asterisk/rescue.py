"""Hand calls left in the Stasis application back to the dialplan fallback.

A channel that entered ``Stasis(app)`` stays there when the controller dies:
Asterisk keeps it (state Ring or Up) and the caller hears ringing or silence
until they hang up. ``rescue_orphans`` — run when the controller stops or
crashes (``ExecStopPost`` of centralino-controller.service, ``centralino
asterisk rescue``) — sends every inbound caller still in the app to
``fallback,s,1`` (message + voicemail/forward) and hangs up the other channels
of the app (external media, snoop, transfer legs), which nobody drives anymore.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from centralino.asterisk.process import AsteriskError, AsteriskProcess

log = logging.getLogger(__name__)

FALLBACK = "fallback,s,1"
# The dialplan context a caller is in while inside Stasis (see extensions.conf).
INBOUND_CONTEXT = "inbound"


@dataclass
class RescueReport:
    redirected: list[str] = field(default_factory=list)
    hung_up: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def stasis_channels(process: AsteriskProcess, app_name: str) -> list[tuple[str, str]]:
    """(channel name, dialplan context) of every channel inside Stasis(app_name)."""
    out = process.cli("core show channels concise")
    found = []
    for line in out.splitlines():
        cols = line.split("!")
        if len(cols) < 7 or cols[5] != "Stasis":
            continue
        if cols[6].split(",")[0] != app_name:
            continue
        found.append((cols[0], cols[1]))
    return found


def rescue_orphans(process: AsteriskProcess, app_name: str) -> RescueReport:
    report = RescueReport()
    if not process.running():
        return report
    try:
        channels = stasis_channels(process, app_name)
    except AsteriskError as exc:
        report.errors.append(str(exc))
        return report
    for name, context in channels:
        try:
            if context == INBOUND_CONTEXT and name.startswith("PJSIP/"):
                out = process.cli(f"channel redirect {name} {FALLBACK}")
                if "successfully redirected" not in out:
                    raise AsteriskError(out.strip())
                report.redirected.append(name)
                log.warning("controller gone: %s sent to the dialplan fallback", name)
            else:
                process.cli(f"channel request hangup {name}")
                report.hung_up.append(name)
                log.warning("controller gone: hung up %s", name)
        except AsteriskError as exc:
            # The channel may have hung up meanwhile; report and go on with the others.
            report.errors.append(f"{name}: {exc}")
    return report
