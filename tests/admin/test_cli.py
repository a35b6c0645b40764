"""``centralino admin create-user`` and ``centralino admin serve`` (a real server process)."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from click.testing import CliRunner, Result

from admin_web.cli import admin
from centralino.accounts.service import AccountService
from centralino.cli import cli
from centralino.db.session import Database
from centralino.tenants.service import TenantService, parse_spec

REPO = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, secret: bool = True) -> Path:
    path = tmp_path / "centralino.toml"
    lines = [
        "[paths]",
        f'runtime_dir = "{tmp_path / "var"}"',
        "[database]",
        f'url = "sqlite:///{tmp_path / "admin.db"}"',
    ]
    if secret:
        lines += ["[admin]", f'secret_key = "{secrets.token_hex(32)}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(args: list[str], config: Path, input: str | None = None) -> Result:
    if "admin" not in cli.commands:
        cli.add_command(admin, "admin")
    return CliRunner().invoke(
        cli, ["--config", str(config), *args], input=input, catch_exceptions=False
    )


def test_create_user_generates_password_once(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = _run(
        ["admin", "create-user", "--email", "Root@Example.it", "--generate-password"], config
    )
    assert result.exit_code == 0, result.output
    m = re.search(r"password \(shown only this once\): (\S+)", result.output)
    assert m
    db = Database(f"sqlite:///{tmp_path / 'admin.db'}")
    user = AccountService(db).authenticate("root@example.it", m.group(1))
    assert user is not None and user.role == "installation_admin" and user.tenant_id is None
    db.dispose()


def test_create_user_with_typed_password_and_tenant(tmp_path: Path) -> None:
    config = _config(tmp_path)
    db = Database(f"sqlite:///{tmp_path / 'admin.db'}")
    db.upgrade()
    TenantService(db).upsert(parse_spec({"slug": "rossi", "name": "Rossi", "numbers": []}))
    result = _run(
        [
            "admin",
            "create-user",
            "--email",
            "a@rossi.it",
            "--role",
            "agent",
            "--tenant",
            "rossi",
            "--password-prompt",
        ],
        config,
        input="short\nshort\nuna-password-lunga\nuna-password-lunga\n",
    )
    assert result.exit_code == 0, result.output
    assert "needs at least 10 characters" in result.output
    assert "shown only" not in result.output
    user = AccountService(db).authenticate("a@rossi.it", "una-password-lunga")
    assert user is not None and user.role == "agent"
    db.dispose()


def test_create_user_errors(tmp_path: Path) -> None:
    config = _config(tmp_path)
    r = _run(
        ["admin", "create-user", "--email", "x@y.it", "--role", "agent", "--generate-password"],
        config,
    )
    assert r.exit_code != 0 and "needs a tenant" in r.output
    r = _run(
        [
            "admin",
            "create-user",
            "--email",
            "x@y.it",
            "--role",
            "agent",
            "--tenant",
            "nope",
            "--generate-password",
        ],
        config,
    )
    assert r.exit_code != 0 and "no agency" in r.output
    assert (
        _run(["admin", "create-user", "--email", "x@y.it", "--generate-password"], config).exit_code
        == 0
    )
    r = _run(["admin", "create-user", "--email", "X@y.it", "--generate-password"], config)
    assert r.exit_code != 0 and "already exists" in r.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(config: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENTRALINO_")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "centralino.cli",
            "--config",
            str(config),
            "admin",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env=env,
    )


def test_serve_prints_url_and_first_login_steps(tmp_path: Path) -> None:
    config = _config(tmp_path)
    port = _free_port()
    proc = _serve(config, port)
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "create-user" in line:
                break
        text = "".join(lines)
        assert f"http://127.0.0.1:{port}/" in text
        assert "No account exists yet" in text and "create-user" in text
        body = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                    body = r.read().decode()
                    break
            except OSError:
                time.sleep(0.2)
        assert 'name="csrf_token"' in body and "Accedi" in body
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_serve_without_secret_names_the_variable(tmp_path: Path) -> None:
    config = _config(tmp_path, secret=False)
    proc = _serve(config, _free_port())
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "CENTRALINO_ADMIN__SECRET_KEY" in out and "centralino init" in out
