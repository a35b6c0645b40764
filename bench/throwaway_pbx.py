"""A throwaway Asterisk with the demo agency, for the benchmarks that place real SIP calls.

Shared by ``bench.pbx`` and ``bench.latency`` (not a benchmark itself: no main()):
the Asterisk root check, a throwaway instance from the production templates on
free ports with a SQLite database holding the demo tenants, the FastAGI routing
service plus a running controller, and the command-line options both take.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from centralino.asterisk.instance import Instance, throwaway_settings, unique_name
from centralino.asterisk.settings import AsteriskSettings, Layout, resolve_prefix
from centralino.config import Config
from centralino.db.session import Database
from centralino.tenants.service import TenantService
from pbx.agi.server import RoutingAgi, start_agi_server
from pbx.controller import Controller

REPO = Path(__file__).resolve().parents[1]
DID = "+390212345678"  # the demo agency's number (centralino/tenants/demo.toml)


@dataclass(frozen=True)
class ThrowawayPbx:
    instance: Instance
    config: Config  # [asterisk] of the instance, runtime_dir in ``work``, plus the extras
    db: Database  # SQLite in ``work``, migrated, with the demo tenants
    work: Path  # a temporary folder, deleted afterwards


def argument_parser(name: str) -> argparse.ArgumentParser:
    """The options both take: ``--calls``, ``--concurrent``, ``--out`` (bench-results/NAME.json)."""
    p = argparse.ArgumentParser(prog=f"python -m bench.{name}")
    p.add_argument("--calls", type=int, default=5, help="calls placed one at a time")
    p.add_argument("--concurrent", type=int, default=10, help="simultaneous calls (0: none)")
    p.add_argument("--out", type=Path, default=REPO / "bench-results" / f"{name}.json")
    return p


def asterisk_prefix() -> Path | None:
    """The Asterisk root the benchmarks run; None (said on stderr) when it is not installed."""
    prefix = resolve_prefix(AsteriskSettings(), REPO / "var")
    if str(prefix) != "/" and not (prefix / "usr/sbin/asterisk").exists():
        print(f"no Asterisk at {prefix}: run scripts/install.sh", file=sys.stderr)
        return None
    return prefix


@contextmanager
def throwaway_pbx(
    prefix: Path, name: str, config: dict[str, Any] | None = None
) -> Iterator[ThrowawayPbx]:
    """A started throwaway Asterisk under ``prefix``, removed (with its folder) on exit.

    ``config`` adds sections to the Config next to ``asterisk`` and ``paths``.
    """
    with tempfile.TemporaryDirectory(prefix=f"centralino-bench-{name}-") as tmp:
        work = Path(tmp)
        settings = throwaway_settings(
            AsteriskSettings(
                ari_password=secrets.token_urlsafe(18),
                ami_secret=secrets.token_urlsafe(18),
                test_endpoint=True,
            ),
            unique_name(name),
        )
        instance = Instance(settings, Layout.for_instance(prefix, settings.instance, work))
        instance.install(instance.render())
        data = {f: getattr(settings, f) for f in settings.__dataclass_fields__ if f != "prefix"}
        data["prefix"] = str(prefix)
        sections = {"asterisk": data, "paths": {"runtime_dir": str(work)}, **(config or {})}
        db = Database(f"sqlite:///{work / 'bench.db'}")
        db.upgrade()
        TenantService(db).load_file(REPO / "centralino" / "tenants" / "demo.toml")
        try:
            instance.process.start()
            yield ThrowawayPbx(instance, Config(sections, environ={}), db, work)
        finally:
            instance.remove()
            db.dispose()


@asynccontextmanager
async def serving(env: ThrowawayPbx, controller: Controller) -> AsyncIterator[None]:
    """The FastAGI routing service and ``controller`` running until the block ends."""
    server = await start_agi_server(
        RoutingAgi(TenantService(env.db)), "127.0.0.1", env.instance.settings.agi_port
    )
    stop = asyncio.Event()
    task = asyncio.create_task(controller.run(stop))
    try:
        await asyncio.wait_for(controller.ready.wait(), 30)
        yield
    finally:
        stop.set()
        await task
        server.close()
        await server.wait_closed()
