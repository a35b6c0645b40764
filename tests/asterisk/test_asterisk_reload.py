"""`centralino asterisk check` / `reload` against a real running Asterisk.

Each test module run gets its own live instance (not the shared session one,
since these tests change its configuration) and its own copy of the templates,
edited the way IT staff would edit asterisk-conf/.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from centralino.asterisk.instance import free_tcp_ports
from centralino.asterisk.render import REPO_TEMPLATES
from tests.fixtures.asterisk import REPO, AsteriskFixture, spawn_asterisk
from tests.fixtures.sipp import sipp_call

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]

CENTRALINO = [sys.executable, "-m", "centralino.cli"]


@dataclass
class Live:
    fixture: AsteriskFixture
    templates: Path
    config_path: Path

    def write_config(self, **overrides: object) -> None:
        s = self.fixture.settings
        lines = ["[asterisk]"]
        for f in fields(s):
            value = overrides.get(f.name, getattr(s, f.name))
            if f.name == "prefix":
                value = str(self.fixture.prefix)
            if f.name == "template_dir":
                value = str(self.templates)
            if isinstance(value, bool):
                lines.append(f"{f.name} = {'true' if value else 'false'}")
            elif isinstance(value, int):
                lines.append(f"{f.name} = {value}")
            else:
                lines.append(f'{f.name} = "{value}"')
        lines += ["[paths]", f'runtime_dir = "{self.fixture.runtime_dir}"']
        self.config_path.write_text("\n".join(lines) + "\n")

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CENTRALINO, "--config", str(self.config_path), "asterisk", *args],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=REPO,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.templates / name
        text = path.read_text()
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1))

    def reset_templates(self) -> None:
        for p in REPO_TEMPLATES.glob("*.j2"):
            shutil.copyfile(p, self.templates / p.name)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("reload")
    templates = tmp / "asterisk-conf"
    templates.mkdir()
    for p in REPO_TEMPLATES.glob("*.j2"):
        shutil.copyfile(p, templates / p.name)
    with spawn_asterisk(tmp, templates) as fixture:
        live = Live(fixture, templates, tmp / "centralino.toml")
        live.write_config()
        yield live


@pytest.fixture
def fresh(live: Live) -> Live:
    """The live instance with pristine templates and config (what is installed)."""
    live.reset_templates()
    live.write_config()
    return live


def _installed(live: Live, name: str) -> str:
    return (live.fixture.layout.etc / name).read_text()


def test_check_without_changes(fresh: Live) -> None:
    res = fresh.run("check")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no changes against the installed configuration" in res.stdout
    assert "configuration OK" in res.stdout


def test_check_shows_the_diff_and_changes_nothing(fresh: Live) -> None:
    fresh.edit(
        "extensions.conf.j2",
        "[from-test]\n",
        "[from-test]\nexten => 7777,1,NoOp(added by IT)\n same => n,Hangup()\n",
    )
    before = _installed(fresh, "extensions.conf")
    res = fresh.run("check")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "+exten => 7777,1,NoOp(added by IT)" in res.stdout
    assert "candidate/extensions.conf" in res.stdout
    assert _installed(fresh, "extensions.conf") == before
    assert "7777" not in fresh.fixture.cli("dialplan show from-test")


def test_reload_applies_and_keeps_the_previous_version(fresh: Live) -> None:
    before = _installed(fresh, "extensions.conf")
    fresh.edit(
        "extensions.conf.j2",
        "[from-test]\n",
        "[from-test]\nexten => 7778,1,NoOp(reloaded)\n same => n,Hangup()\n",
    )
    res = fresh.run("reload")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "reloaded" in res.stdout
    assert "7778" in fresh.fixture.cli("dialplan show from-test")
    previous = fresh.fixture.layout.previous_etc / "extensions.conf"
    assert previous.read_text() == before
    # Put the pristine dialplan back for the next tests.
    fresh.reset_templates()
    assert fresh.run("reload").returncode == 0
    assert "7778" not in fresh.fixture.cli("dialplan show from-test")


def test_broken_dialplan_is_refused_and_previous_keeps_serving_calls(fresh: Live) -> None:
    fresh.edit("extensions.conf.j2", "Playback(vm-goodbye)", "Playbak(vm-goodbye)")
    before = _installed(fresh, "extensions.conf")
    res = fresh.run("reload")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Playbak" in res.stderr
    assert "does not exist" in res.stderr
    assert "nothing was changed" in res.stderr
    assert _installed(fresh, "extensions.conf") == before
    assert "Playbak" not in fresh.fixture.cli("dialplan show fallback")
    # The running configuration still answers a real call (message from the dialplan).
    mark = fresh.fixture.log_mark()
    call = sipp_call(fresh.fixture, "0298765432", audio_seconds=0, hold_ms=2500)
    assert call.ok, call.errors or call.output[-2000:]
    log = fresh.fixture.log_since(mark)
    assert "0298765432@inbound" in log and "Playing '" in log


def test_broken_pjsip_option_is_refused(fresh: Live) -> None:
    fresh.edit(
        "pjsip.conf.j2", "context = from-test\n", "context = from-test\nbogus_option = yes\n"
    )
    res = fresh.run("check")
    assert res.returncode == 1
    assert "bogus_option" in res.stderr
    res = fresh.run("reload")
    assert res.returncode == 1
    assert "bogus_option" not in _installed(fresh, "pjsip.conf")
    assert "centralino-test" in fresh.fixture.cli("pjsip show endpoints")


def test_template_syntax_error_is_refused(fresh: Live) -> None:
    fresh.edit("http.conf.j2", "{{ s.http_port }}", "{{ s.http_port }")
    res = fresh.run("reload")
    assert res.returncode == 1
    assert "http.conf.j2" in res.stderr


def _ami_ok(port: int, user: str, secret: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            f = s.makefile("rwb")
            f.readline()
            f.write(f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n\r\n".encode())
            f.flush()
            reply = b""
            while not reply.endswith(b"\r\n\r\n"):
                chunk = f.readline()
                if not chunk:
                    break
                reply += chunk
            return b"Success" in reply
    except OSError:
        return False


def test_live_refusal_is_rolled_back(fresh: Live) -> None:
    """Valid config that the *running* Asterisk cannot apply (AMI port taken): rollback."""
    s = fresh.fixture.settings
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", free_tcp_ports(1)[0]))
        squatter.listen()
        taken = squatter.getsockname()[1]
        fresh.write_config(ami_port=taken)
        res = fresh.run("reload")
        assert res.returncode == 1, res.stdout + res.stderr
        assert "previous configuration restored" in res.stderr
        assert f"127.0.0.1:{taken}" in res.stderr
    assert f"port = {s.ami_port}" in _installed(fresh, "manager.conf")
    # AMI serves again on the previous port (retried: the machine may be loaded).
    deadline = time.monotonic() + 15
    while not _ami_ok(s.ami_port, s.ami_user, s.ami_secret):
        assert time.monotonic() < deadline, fresh.fixture.log_since(0)[-3000:]
        time.sleep(0.5)


def test_diff_never_shows_secrets(fresh: Live) -> None:
    fresh.write_config(ari_password="Brand-New-Secret-123")
    res = fresh.run("check")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "candidate/ari.conf" in res.stdout
    assert "Brand-New-Secret-123" not in res.stdout
    assert fresh.fixture.settings.ari_password not in res.stdout
    assert "password = ********" in res.stdout


def test_missing_password_is_reported_by_the_command(fresh: Live) -> None:
    fresh.write_config(ari_password="")
    res = fresh.run("check")
    assert res.returncode == 2
    assert "CENTRALINO_ASTERISK__ARI_PASSWORD" in res.stderr
