"""The ``centralino`` command line.

The three faces (pbx, agent, admin_web) add their own sub-commands through the
``centralino.commands`` entry-point group, so this package never imports them.
"""

from __future__ import annotations

import logging
import sys
from importlib.metadata import entry_points
from pathlib import Path

import click

from centralino.config import Config, ConfigError, load_config
from centralino.db.session import Database
from centralino.tenants.service import TenantError, TenantService

log = logging.getLogger(__name__)


class Context:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: Config | None = None
        self._db: Database | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.config.database_url)
        return self._db


pass_ctx = click.make_pass_decorator(Context)


@click.group()
@click.option("--config", "config_path", envvar="CENTRALINO_CONFIG", help="TOML config file")
@click.option("-v", "--verbose", is_flag=True)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """Centralino: AI receptionist for real-estate agencies."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        # Alembic logs every plugin and revision at INFO: noise on each start.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    ctx.obj = Context(config_path)


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Apply all migrations."""
    ctx.db.upgrade()
    click.echo(f"database up to date: {ctx.db.engine.url.render_as_string(hide_password=True)}")


@cli.group()
def tenants() -> None:
    """Agencies and their phone numbers."""


@tenants.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def tenants_load(ctx: Context, path: Path) -> None:
    """Create or update the agencies described in a TOML file (all or nothing)."""
    ids = TenantService(ctx.db).load_file(path)
    click.echo(f"loaded {len(ids)} tenant(s) from {path}")


@tenants.command("list")
@pass_ctx
def tenants_list(ctx: Context) -> None:
    for t in TenantService(ctx.db).all():
        click.echo(f"{t.id}\t{t.slug}\t{t.name}\t{' '.join(n.e164 for n in t.numbers)}")


def _add_builtin_commands() -> None:
    # Asterisk management lives in centralino/ (no face import): registered directly.
    from centralino.asterisk.cli import asterisk
    from centralino.setup_secrets import init

    cli.add_command(asterisk)
    cli.add_command(init)
    from centralino.backup.cli import backup, restore
    from centralino.delivery.cli import deliver
    from centralino.jobs.cli import jobs

    cli.add_command(deliver)
    cli.add_command(backup)
    cli.add_command(restore)
    cli.add_command(jobs)
    from centralino.launcher import run

    cli.add_command(run)
    from centralino.analytics.cli import COMMANDS as analytics_commands

    for command in analytics_commands:  # demo-data, apikey, analytics, sentiment
        cli.add_command(command)


_add_builtin_commands()


def _load_plugins() -> None:
    for ep in entry_points(group="centralino.commands"):
        try:
            command = ep.load()
        except Exception as exc:  # a broken face must not take the whole CLI down
            log.warning("cannot load command %s: %s", ep.name, exc)
            continue
        cli.add_command(command, ep.name)


def main() -> None:
    _load_plugins()
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (ConfigError, TenantError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
