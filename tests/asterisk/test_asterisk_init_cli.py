"""`centralino init` (generated secrets) and `centralino asterisk start/status/stop`."""

from __future__ import annotations

import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from centralino.asterisk.instance import throwaway_settings, unique_name
from centralino.asterisk.settings import AsteriskSettings, resolve_prefix
from centralino.setup_secrets import init_config
from tests.fixtures.asterisk import REPO

CENTRALINO = [sys.executable, "-m", "centralino.cli"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CENTRALINO, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )


def test_init_generates_private_secrets_and_never_overwrites(tmp_path: Path) -> None:
    res = _run("init", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    path = tmp_path / "var" / "centralino.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = tomllib.loads(path.read_text())
    ari = first["asterisk"]["ari_password"]
    ami = first["asterisk"]["ami_secret"]
    key = first["admin"]["secret_key"]
    assert len(ari) >= 30 and len(ami) >= 30 and len(key) >= 40
    assert len({ari, ami, key}) == 3
    res = _run("init", cwd=tmp_path)
    assert "nothing changed" in res.stdout
    assert tomllib.loads(path.read_text()) == first
    # Another server gets other secrets.
    other = tmp_path / "other.toml"
    init_config(other)
    assert tomllib.loads(other.read_text())["asterisk"]["ari_password"] != ari


def test_init_completes_an_existing_file_and_keeps_its_settings(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[asterisk]\nsip_port = 5070\nari_password = ""\n\n[database]\nurl = "x"\n')
    generated = init_config(path)
    assert generated == ["asterisk.ari_password", "asterisk.ami_secret", "admin.secret_key"]
    data = tomllib.loads(path.read_text())
    assert data["asterisk"]["sip_port"] == 5070
    assert data["asterisk"]["ari_password"]
    assert data["database"]["url"] == "x"


def test_init_refuses_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[asterisk\nari_password = 1\n")
    res = _run("init", "--path", str(path), cwd=tmp_path)
    assert res.returncode != 0
    assert "not valid TOML" in res.stderr
    assert path.read_text() == "[asterisk\nari_password = 1\n"


@pytest.mark.asterisk
def test_start_status_stop_commands(tmp_path: Path) -> None:
    prefix = resolve_prefix(AsteriskSettings(), REPO / "var")
    if str(prefix) != "/" and not (prefix / "usr/sbin/asterisk").exists():
        pytest.skip(f"no Asterisk root at {prefix}")
    s = throwaway_settings(AsteriskSettings(), unique_name("cli"))
    config = tmp_path / "c.toml"
    config.write_text(
        "[asterisk]\n"
        f'prefix = "{prefix}"\ninstance = "{s.instance}"\nsip_bind = "127.0.0.1"\n'
        f"sip_port = {s.sip_port}\nhttp_port = {s.http_port}\nami_port = {s.ami_port}\n"
        f"agi_port = {s.agi_port}\nrtp_start = {s.rtp_start}\nrtp_end = {s.rtp_end}\n"
        f'[paths]\nruntime_dir = "{tmp_path}"\n'
    )
    assert _run("init", "--path", str(config), cwd=tmp_path).returncode == 0
    args = ("--config", str(config), "asterisk")
    try:
        res = _run(*args, "start", cwd=tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"SIP on 127.0.0.1:{s.sip_port}" in res.stdout
        res = _run(*args, "status", cwd=tmp_path)
        assert res.returncode == 0 and "centralino-test" in res.stdout
        res = _run(*args, "start", cwd=tmp_path)
        assert res.returncode != 0 and "already running" in res.stderr
        res = _run(*args, "cli", "dialplan", "show", "from-test", cwd=tmp_path)
        assert "Goto(inbound" in res.stdout
    finally:
        res = _run(*args, "stop", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert _run(*args, "status", cwd=tmp_path).returncode == 3
    home = prefix / "srv/centralino" / s.instance
    if str(prefix) != "/" and home.is_dir():
        import shutil

        shutil.rmtree(home)
