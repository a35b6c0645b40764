"""``centralino call``: place one simulated call and print what happened."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from centralino.config import Config, ConfigError
from centralino.tenants.phone import InvalidPhoneNumber, normalize_e164

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def _default_server(config: Config) -> tuple[str, int]:
    """SIP address of our Asterisk from ``[asterisk]``, else 127.0.0.1:5060."""
    try:
        from centralino.asterisk.settings import AsteriskSettings
    except ImportError:  # an install without the Asterisk area
        raw = config.raw("asterisk")
        return "127.0.0.1", int(raw.get("sip_port", 5060))
    settings = config.section("asterisk", AsteriskSettings)
    host = settings.sip_bind if settings.sip_bind not in ("", "0.0.0.0", "::") else "127.0.0.1"
    return host, settings.sip_port


def _bad_input(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


@click.command("call")
@click.option("--to", "to", required=True, help="Number to call (the DID), e.g. +390212345678")
@click.option(
    "--from", "caller_id", help="Caller id (E.164); default: the script's, else a test number"
)
@click.option("--server", help="SIP server address (default: the [asterisk] config, 127.0.0.1)")
@click.option("--port", type=click.IntRange(1, 65535), help="SIP server port (default from config)")
@click.option(
    "--script",
    "script_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON caller script (utterances to speak)",
)
@click.option(
    "--record",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write what the caller heard to this WAV",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.5, 600),
    default=30.0,
    show_default=True,
    help="Seconds to wait for an answer",
)
@click.option("--auth-user", help="Digest user name if the server challenges the call")
@click.option("--no-db", is_flag=True, help="Do not look up the stored call")
@click.option(
    "--store-wait",
    type=click.FloatRange(0, 120),
    default=8.0,
    show_default=True,
    help="Seconds to wait for the stored call row",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON")
@click.pass_obj
def call(
    ctx: Any,
    to: str,
    caller_id: str | None,
    server: str | None,
    port: int | None,
    script_path: Path | None,
    record: Path | None,
    timeout: float,
    auth_user: str | None,
    no_db: bool,
    store_wait: float,
    as_json: bool,
) -> None:
    """Place a real SIP/RTP call as a simulated Italian caller.

    Exit status: 0 answered and completed, 1 call failed (unreachable, rejected,
    not answered), 2 bad input (no call placed). The digest password, if
    needed, comes from the environment variable CENTRALINO_CALL_PASSWORD.
    """
    from centralino.simcaller import DEFAULT_CALLER_ID, Credentials, place_call
    from centralino.simcaller.script import Script, ScriptError, load_script, normalize_caller_id

    try:
        did = normalize_e164(to)
    except InvalidPhoneNumber as exc:
        _bad_input(f"--to: {exc}")
    script = Script()
    try:
        if script_path is not None:
            script = load_script(script_path)
        if caller_id is not None:
            caller_id = normalize_caller_id(caller_id)
    except ScriptError as exc:
        _bad_input(str(exc))
    credentials = None
    if auth_user:
        password = os.environ.get("CENTRALINO_CALL_PASSWORD", "")
        if not password:
            _bad_input("--auth-user needs the password in CENTRALINO_CALL_PASSWORD")
        credentials = Credentials(auth_user, password)
    config: Config = ctx.config
    if server is None or port is None:
        try:
            default_host, default_port = _default_server(config)
        except ConfigError as exc:
            _bad_input(str(exc))
        server = server or default_host
        port = port or default_port
    database = None if no_db else ctx.db
    report = asyncio.run(
        place_call(
            did,
            caller_id=caller_id or script.caller_id or DEFAULT_CALLER_ID,
            server=server,
            port=port,
            script=script,
            record=record,
            timeout=timeout,
            credentials=credentials,
            database=database,
            store_wait_s=store_wait,
        )
    )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(report.summary())
    if not report.ok:
        sys.exit(EXIT_FAILED)
