"""``centralino run``: the whole platform on one machine, plus a demo call.

Starts Asterisk (system or sid root), the FastAGI router, the ARI controller
and the admin as child processes, places one demo call from a simulated
Italian caller over real SIP/RTP, prints what happened, then keeps serving
until Ctrl-C. The faces are started as ``centralino <command>`` processes so
this package never imports them.
"""

from __future__ import annotations

import base64
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from centralino.asterisk.instance import Instance
from centralino.asterisk.settings import AsteriskSettings, layout_for, load_settings
from centralino.config import Config, load_config
from centralino.db.session import Database
from centralino.setup_secrets import init_config
from centralino.tenants.service import TenantService

log = logging.getLogger(__name__)

DEMO_TENANTS = Path(__file__).resolve().parent / "tenants" / "demo.toml"
DEMO_SCRIPT = Path(__file__).resolve().parent / "simcaller" / "demo_call.json"


@dataclass
class Child:
    name: str
    args: list[str]
    proc: subprocess.Popen[bytes]
    log_path: Path


def _centralino_exe() -> list[str]:
    exe = Path(sys.executable).parent / "centralino"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "centralino.cli"]


def _spawn(name: str, args: list[str], logs: Path, env: dict[str, str]) -> Child:
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    out = open(log_path, "ab")  # noqa: SIM115 - handed to the child for its lifetime
    proc = subprocess.Popen(
        [*_centralino_exe(), *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
        # Own process group: Ctrl-C in the terminal reaches only us, and we stop
        # the children in order (controller before Asterisk) instead of all at once.
        start_new_session=True,
    )
    out.close()
    return Child(name, args, proc, log_path)


def _wait_ari_app(settings: AsteriskSettings, timeout: float, child: Child) -> None:
    """Until the controller's Stasis app is registered (its events websocket is up)."""
    url = f"http://127.0.0.1:{settings.http_port}/ari/applications/{settings.app_name}"
    token = base64.b64encode(f"{settings.ari_user}:{settings.ari_password}".encode()).decode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise click.ClickException(
                f"the controller exited ({child.proc.returncode}); see {child.log_path}"
            )
        req = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
        try:
            with urllib.request.urlopen(req, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise click.ClickException(f"the controller did not connect to ARI; see {child.log_path}")


def _wait_port(port: int, timeout: float, child: Child) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise click.ClickException(f"{child.name} exited; see {child.log_path}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise click.ClickException(f"{child.name} is not listening on {port}; see {child.log_path}")


def _stop(children: list[Child]) -> None:
    for child in reversed(children):
        if child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
    for child in reversed(children):
        try:
            child.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in 15 s; killing it", child.name)
            child.proc.kill()
            child.proc.wait()


def _demo_call(
    config: Config, db: Database, settings: AsteriskSettings, did: str
) -> dict[str, Any]:
    from centralino.simcaller import place_call_sync

    report = place_call_sync(
        did,
        server="127.0.0.1",
        port=settings.sip_port,
        script=DEMO_SCRIPT,
        record=config.runtime_dir / "demo-call-heard.wav",
        timeout=20.0,
        database=db,
        store_wait_s=15.0,
    )
    data = report.to_dict()
    stored = data.get("stored_call")
    if stored and stored.get("id"):
        from sqlalchemy import select

        from centralino.leads.models import Lead

        with db.session() as s:
            lead = s.scalars(select(Lead).where(Lead.call_id == stored["id"])).first()
            if lead is not None:
                data["lead"] = {
                    k: getattr(lead, k)
                    for k in (
                        "name",
                        "phone",
                        "request_type",
                        "property_type",
                        "zone",
                        "budget_min",
                        "budget_max",
                        "urgency",
                        "score",
                    )
                    if getattr(lead, k) not in (None, "")
                }
    return data


def _print_demo(report: dict[str, Any]) -> None:
    stored = report.get("stored_call") or {}
    heard = report.get("heard") or {}
    click.echo("")
    click.echo("=== demo call ===")
    click.echo(
        f"SIP status      : {report.get('sip_status')} {report.get('sip_reason')}"
        f" (answered: {report.get('answered')}, hung up by {report.get('hangup_by')})"
    )
    click.echo(f"call id         : {stored.get('id', '?')}  (SIP Call-ID {report.get('call_id')})")
    click.echo(f"tenant          : {stored.get('tenant_slug') or stored.get('tenant_id')}")
    click.echo(f"caller id / DID : {stored.get('caller_id')} -> {stored.get('did')}")
    click.echo(
        f"duration        : stored {stored.get('duration_s')} s,"
        f" measured by the caller {report.get('duration_s')} s"
    )
    click.echo(
        f"caller heard    : {heard.get('total_s')} s of audio, {heard.get('voiced_s')} s non-silent"
    )
    for i, utt in enumerate(report.get("utterances") or []):
        latency = utt.get("response_latency_ms")
        click.echo(
            f"  utterance {i + 1}: {utt.get('label') or utt.get('text') or ''!s:40.40}"
            f"  agent replied after {latency} ms"
        )
    if stored.get("turns"):
        click.echo("transcript      :")
        for turn in stored["turns"]:
            click.echo(f"  [{turn.get('speaker')}] {turn.get('text')}")
    if report.get("lead"):
        fields = ", ".join(f"{k}={v}" for k, v in report["lead"].items())
        click.echo(f"lead stored     : {fields}")
    if report.get("recording"):
        click.echo(f"heard audio     : {report['recording']}")
    if report.get("error") or report.get("stored_call_error"):
        click.echo(f"problem         : {report.get('error') or report.get('stored_call_error')}")


@click.command("run")
@click.option("--no-demo", is_flag=True, help="Do not place the demo call.")
@click.option("--exit-after-demo", is_flag=True, help="Stop after the demo call (smoke test).")
@click.option("--admin-port", type=int, default=None, help="Admin port (default: [admin] port).")
@click.pass_obj
def run(obj: Any, no_demo: bool, exit_after_demo: bool, admin_port: int | None) -> None:
    """Start Asterisk, AGI router, controller, jobs and admin; place a demo call."""
    config_path = Path(
        obj.config_path or os.environ.get("CENTRALINO_CONFIG") or "var/centralino.toml"
    )
    generated = init_config(config_path)
    if generated:
        click.echo(f"{config_path}: generated secrets {', '.join(generated)}")
    config = load_config(config_path)
    env = dict(os.environ, CENTRALINO_CONFIG=str(config_path.resolve()))
    logs = config.runtime_dir / "logs"

    db = Database(config.database_url)
    db.upgrade()
    tenants = TenantService(db)
    if not tenants.all():
        tenants.load_file(DEMO_TENANTS)
        click.echo(f"loaded the demo agency from {DEMO_TENANTS}")
    demo = next((t for t in tenants.all() if t.numbers), None)

    settings = load_settings(config)
    inst = Instance(settings, layout_for(config, settings))
    children: list[Child] = []
    started_asterisk = False
    try:
        if not inst.process.running():
            inst.install(inst.render())
            inst.process.start()
            started_asterisk = True
        click.echo(f"Asterisk running ({inst.layout.prefix}), log {inst.layout.log_path}")

        agi = _spawn("agi", ["agi"], logs, env)
        children.append(agi)
        _wait_port(settings.agi_port, 30, agi)
        controller = _spawn("controller", ["serve"], logs, env)
        children.append(controller)
        _wait_ari_app(settings, 60, controller)
        click.echo("controller connected to ARI")

        # Scheduled jobs: the outbox dispatcher (every lead reaches the agency),
        # daily backup, recording retention, daily summary.
        children.append(_spawn("jobs", ["jobs", "run"], logs, env))

        admin_args = ["admin", "serve"] + (["--port", str(admin_port)] if admin_port else [])
        admin = _spawn("admin", admin_args, logs, env)
        children.append(admin)

        if not no_demo and demo is not None:
            did = demo.numbers[0].e164
            click.echo(f"placing a demo call to {did} ({demo.name})...")
            _print_demo(_demo_call(config, db, settings, did))

        from centralino.asterisk.cli import sip_address

        click.echo("")
        click.echo("=== Centralino is running ===")
        if demo is not None:
            did = demo.numbers[0].e164
            click.echo(f"Test from this machine: .venv/bin/centralino call --to {did}")
            if settings.softphone_password:
                click.echo(
                    f"Softphone on the LAN: user centralino-phone at {sip_address(inst)}"
                    f" (password: asterisk.softphone_password in {config_path}), dial {did}"
                )
            else:
                click.echo(
                    "Softphone on the LAN: set asterisk.softphone_password in"
                    f" {config_path} and restart, then register centralino-phone at"
                    f" {sip_address(inst)} and dial {did}. Trunks: docs/asterisk.md."
                )
        admin_raw = config.raw("admin")
        admin_host = admin_raw.get("host", "127.0.0.1")
        admin_url = f"http://{admin_host}:{admin_port or admin_raw.get('port', 8080)}/"
        click.echo(f"Admin: {admin_url} (log {logs / 'admin.log'})")
        click.echo(
            "First login: .venv/bin/centralino admin create-user --email you@agency.it"
            " --role installation_admin  (prints a generated password once)"
        )
        click.echo(f"Logs: {logs}/  Press Ctrl-C to stop.")
        if exit_after_demo:
            return
        stop = False

        def _on_signal(_sig: int, _frame: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        while not stop:
            for i, child in enumerate(children):
                if child.proc.poll() is not None:
                    click.echo(f"{child.name} exited ({child.proc.returncode}); restarting it")
                    if child.name == "controller":
                        # Callers already inside the Stasis app would hear silence until
                        # they hang up: hand them to the dialplan fallback first.
                        from centralino.asterisk.rescue import rescue_orphans

                        rescued = rescue_orphans(inst.process, settings.app_name)
                        for name in rescued.redirected:
                            click.echo(f"  {name} sent to the fallback (message + voicemail)")
                    children[i] = _spawn(child.name, child.args, logs, env)
            time.sleep(1)
    finally:
        click.echo("stopping...")
        _stop(children)
        if started_asterisk:
            inst.process.stop()
        db.dispose()
        click.echo("stopped")
