"""``centralino admin``: create users and serve the web admin."""

from __future__ import annotations

import logging

import click
from sqlalchemy import select

from centralino.accounts.passwords import password_problem
from centralino.accounts.service import AccountError, AccountService, Role
from centralino.config import ConfigError
from centralino.tenants.models import Tenant

log = logging.getLogger(__name__)


@click.group()
def admin() -> None:
    """Web admin: accounts and the web server."""


@admin.command("create-user")
@click.option("--email", required=True, help="Login e-mail of the new user.")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.INSTALLATION_ADMIN.value,
    show_default=True,
)
@click.option(
    "--tenant", default="", help="Agency slug or id (required unless installation_admin)."
)
@click.option(
    "--password-prompt/--generate-password",
    default=False,
    help="Type the password, or (default) generate one and print it once.",
)
@click.pass_obj
def create_user(ctx: object, email: str, role: str, tenant: str, password_prompt: bool) -> None:
    """Create a user. There is no default account and no default password."""
    db = ctx.db  # type: ignore[attr-defined]
    db.upgrade()
    tenant_id: int | None = None
    if tenant:
        with db.session() as s:
            if tenant.isdigit():
                tenant_id = s.scalar(select(Tenant.id).where(Tenant.id == int(tenant)))
            else:
                tenant_id = s.scalar(select(Tenant.id).where(Tenant.slug == tenant))
        if tenant_id is None:
            raise click.ClickException(f"no agency with slug or id {tenant!r}")
    password: str | None = None
    if password_prompt:
        while True:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
            problem = password_problem(password)
            if not problem:
                break
            click.echo(f"The password needs {problem}.", err=True)
    try:
        new = AccountService(db).create_user(email, role, tenant_id, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created user {new.email} ({role})")
    if new.generated_password:
        click.echo(f"password (shown only this once): {new.generated_password}")


@admin.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: [admin] host).")
@click.option("--port", type=int, default=None, help="TCP port (default: [admin] port).")
@click.pass_obj
def serve(ctx: object, host: str | None, port: int | None) -> None:
    """Serve the web admin with waitress (production WSGI server)."""
    from waitress import serve as waitress_serve

    from admin_web.app import create_app
    from admin_web.services import build_services
    from admin_web.settings import AdminSettings

    config = ctx.config  # type: ignore[attr-defined]
    try:
        settings = config.require("admin", AdminSettings)
    except ConfigError as exc:
        raise click.ClickException(
            f"{exc}. Run `centralino init` to generate one into var/centralino.toml."
        ) from None
    db = ctx.db  # type: ignore[attr-defined]
    db.upgrade()
    host = host or settings.host
    port = port or settings.port
    app = create_app(config, build_services(config, db))
    users = AccountService(db).count()
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    click.echo(f"Centralino admin: http://{shown}:{port}/")
    if users == 0:
        click.echo(
            "No account exists yet. Create the first one (the password is printed once):\n"
            "  .venv/bin/centralino admin create-user --email you@example.it "
            "--role installation_admin"
        )
    else:
        click.echo(f"Log in with one of the {users} existing account(s).")
    waitress_serve(app, host=host, port=port, threads=settings.threads, ident="centralino")
