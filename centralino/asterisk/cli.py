"""``centralino asterisk ...``: render, check, reload, start, stop, status."""

from __future__ import annotations

import socket
import sys
from typing import Any

import click

from centralino.asterisk import manage
from centralino.asterisk.instance import Instance
from centralino.asterisk.process import AsteriskError
from centralino.asterisk.render import RenderError
from centralino.asterisk.settings import layout_for, load_settings
from centralino.config import Config


def _instance(obj: Any) -> Instance:
    config: Config = obj.config
    settings = load_settings(config)
    return Instance(settings, layout_for(config, settings))


def lan_address() -> str:
    """This machine's address on the office network (for the SIP URI to dial)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            # No packet is sent: connect() on UDP only picks the outgoing interface.
            s.connect(("192.0.2.1", 9))
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def sip_address(instance: Instance) -> str:
    s = instance.settings
    host = s.external_address or (
        s.sip_bind if s.sip_bind not in ("0.0.0.0", "") else lan_address()
    )
    return f"{host}:{s.sip_port}"


@click.group("asterisk")
def asterisk() -> None:
    """Asterisk: configuration templates (asterisk-conf/), check, reload, start/stop."""


@asterisk.command("render")
@click.pass_obj
def render_cmd(obj: Any) -> None:
    """Render the templates into the instance (first install; use reload later)."""
    inst = _instance(obj)
    if inst.process.running():
        raise click.ClickException(
            "Asterisk is running: use `centralino asterisk reload` to apply changes safely"
        )
    try:
        inst.install(inst.render())
    except RenderError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"rendered {inst.layout.etc}")


@asterisk.command("check")
@click.pass_obj
def check_cmd(obj: Any) -> None:
    """Render + validate in a throwaway Asterisk, and show the diff against the installed config."""
    inst = _instance(obj)
    click.echo(f"validating templates in a throwaway Asterisk ({inst.layout.prefix})...")
    result = manage.validate(inst.settings, inst.layout, inst.templates)
    _print_check(result)
    if not result.ok:
        sys.exit(1)


def _print_check(result: manage.CheckResult) -> None:
    if result.diff:
        click.echo(result.diff.rstrip())
    elif result.ok:
        click.echo("no changes against the installed configuration")
    for w in result.warnings:
        click.echo(f"warning: {w}")
    for e in result.errors:
        click.echo(f"error: {e}", err=True)
    if result.ok:
        click.echo(
            "configuration OK"
            + (f" (changed: {', '.join(result.changed)})" if result.changed else "")
        )
        if result.restart_needed:
            click.echo(f"note: {', '.join(result.restart_needed)} changed: needs a restart")
    else:
        click.echo(f"configuration REFUSED ({len(result.errors)} error(s))", err=True)


@asterisk.command("reload")
@click.pass_obj
def reload_cmd(obj: Any) -> None:
    """Validate and apply; keep the previous version; roll back if Asterisk refuses it."""
    inst = _instance(obj)
    result = manage.reload(inst.settings, inst.layout, inst.templates)
    if result.check.diff:
        click.echo(result.check.diff.rstrip())
    for e in result.errors:
        click.echo(f"error: {e}", err=True)
    if result.errors:
        click.echo(result.message, err=True)
        sys.exit(1)
    click.echo(result.message)


@asterisk.command("start")
@click.option("--foreground", is_flag=True, help="Run in the foreground (systemd).")
@click.pass_obj
def start_cmd(obj: Any, foreground: bool) -> None:
    """Start Asterisk (renders the configuration first if none is installed)."""
    inst = _instance(obj)
    if not (inst.layout.etc / "asterisk.conf").exists():
        try:
            inst.install(inst.render())
        except RenderError as exc:
            raise click.ClickException(str(exc)) from exc
    if foreground:
        inst.process.exec_foreground()
        return
    try:
        pid = inst.process.start()
    except AsteriskError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Asterisk {inst.layout.instance} running (pid {pid}); SIP on {sip_address(inst)}")


@asterisk.command("stop")
@click.pass_obj
def stop_cmd(obj: Any) -> None:
    """Stop Asterisk (core stop now, wait for the process)."""
    inst = _instance(obj)
    inst.process.stop()
    click.echo(f"Asterisk {inst.layout.instance} stopped")


@asterisk.command("restart")
@click.pass_obj
def restart_cmd(obj: Any) -> None:
    """Stop and start Asterisk (drops calls in progress)."""
    inst = _instance(obj)
    try:
        pid = inst.process.restart()
    except AsteriskError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Asterisk {inst.layout.instance} restarted (pid {pid})")


@asterisk.command("status")
@click.pass_obj
def status_cmd(obj: Any) -> None:
    """Whether Asterisk runs, where, and its SIP endpoints."""
    inst = _instance(obj)
    pid = inst.process.pid()
    click.echo(f"instance {inst.layout.instance} in {inst.layout.home}")
    if pid is None:
        click.echo("not running")
        sys.exit(3)
    click.echo(f"running (pid {pid}); SIP on {sip_address(inst)}")
    click.echo(inst.cli("pjsip show endpoints").rstrip())


@asterisk.command("rescue")
@click.pass_obj
def rescue_cmd(obj: Any) -> None:
    """Send calls left in the ARI app (controller gone) to the dialplan fallback."""
    from centralino.asterisk.rescue import rescue_orphans

    inst = _instance(obj)
    report = rescue_orphans(inst.process, inst.settings.app_name)
    for name in report.redirected:
        click.echo(f"redirected {name} to the fallback (message + voicemail/forward)")
    for name in report.hung_up:
        click.echo(f"hung up {name}")
    for err in report.errors:
        click.echo(f"warning: {err}", err=True)
    if not report.redirected and not report.hung_up:
        click.echo("no call left in the ARI application")


@asterisk.command("cli")
@click.argument("command", nargs=-1, required=True)
@click.pass_obj
def cli_cmd(obj: Any, command: tuple[str, ...]) -> None:
    """Run an Asterisk CLI command, e.g. `centralino asterisk cli pjsip show endpoints`."""
    inst = _instance(obj)
    try:
        click.echo(inst.cli(" ".join(command)).rstrip())
    except AsteriskError as exc:
        raise click.ClickException(str(exc)) from exc
