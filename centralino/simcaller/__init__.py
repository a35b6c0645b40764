"""The simulated caller: a real SIP/RTP user agent for the demo, tests and benchmarks.

``place_call`` (async) / ``place_call_sync`` place one call and return a
:class:`CallReport`. Each call has its own SIP and RTP sockets, so many calls can
run concurrently in one event loop::

    reports = await asyncio.gather(*(place_call("+390212345678", script=s) for _ in range(10)))
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from centralino.db.session import Database
from centralino.simcaller.report import CallReport, HeardReport, UtteranceReport
from centralino.simcaller.script import Script, ScriptError, load_script, parse_script
from centralino.simcaller.store import wait_for_call
from centralino.simcaller.ua import Credentials, SimulatedCall

DEFAULT_CALLER_ID = "+393331234567"

__all__ = [
    "DEFAULT_CALLER_ID",
    "CallReport",
    "Credentials",
    "HeardReport",
    "Script",
    "ScriptError",
    "SimulatedCall",
    "UtteranceReport",
    "load_script",
    "parse_script",
    "place_call",
    "place_call_sync",
]


async def _resolve_script(script: Script | dict[str, Any] | Path | str | None) -> Script:
    if script is None:
        return Script()
    if isinstance(script, Script):
        return script
    if isinstance(script, dict):
        return await asyncio.to_thread(parse_script, script, Path.cwd())
    return await asyncio.to_thread(load_script, script)


async def place_call(
    to: str,
    *,
    caller_id: str | None = None,
    server: str = "127.0.0.1",
    port: int = 5060,
    script: Script | dict[str, Any] | Path | str | None = None,
    record: Path | str | None = None,
    timeout: float = 30.0,
    credentials: Credentials | None = None,
    database: Database | None = None,
    database_url: str | None = None,
    store_wait_s: float = 8.0,
    headers: dict[str, str] | None = None,
) -> CallReport:
    """Place one real call to ``to`` (the Request-URI user, e.g. a DID) and report.

    ``timeout`` bounds the wait for an answer (CANCEL after ringing). When a
    ``database`` (or ``database_url``) is given and the call was answered, the
    stored call is looked up by the SIP Call-ID and added to the report.
    """
    resolved = await _resolve_script(script)
    call = SimulatedCall(
        to=to,
        caller_id=caller_id or resolved.caller_id or DEFAULT_CALLER_ID,
        server=server,
        port=port,
        script=resolved,
        answer_timeout_s=timeout,
        credentials=credentials,
        record_path=Path(record) if record else None,
        extra_headers=headers,
    )
    report = await call.run()
    db = database
    owned = False
    if db is None and database_url:
        db = Database(database_url)
        owned = True
    if db is not None and report.answered:
        try:
            row, problem = await asyncio.to_thread(wait_for_call, db, report.call_id, store_wait_s)
        finally:
            if owned:
                db.dispose()
        report.stored_call = row
        report.stored_call_error = problem
    return report


def place_call_sync(to: str, **kwargs: Any) -> CallReport:
    """:func:`place_call` for synchronous code (runs its own event loop)."""
    return asyncio.run(place_call(to, **kwargs))
