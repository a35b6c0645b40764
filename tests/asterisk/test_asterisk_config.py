"""Rendered configuration: Asterisk loads it, listens where it should, has no default secrets."""

from __future__ import annotations

import base64
import re
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from centralino.asterisk.render import REPO_TEMPLATES, RenderError, render
from centralino.asterisk.settings import AsteriskSettings, Layout, load_settings
from centralino.config import Config, ConfigError


def _modules_wanted() -> set[str]:
    text = (REPO_TEMPLATES / "modules.conf.j2").read_text()
    return set(re.findall(r"^load\s*=\s*(\S+)", text, re.M))


def _listeners(port: int) -> set[str]:
    """Local addresses listening on TCP ``port`` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        addr, hexport = cols[1].split(":")
        if int(hexport, 16) == port and cols[3] == "0A":  # 0A = LISTEN
            found.add(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
    for line in Path("/proc/net/tcp6").read_text().splitlines()[1:]:
        cols = line.split()
        addr, hexport = cols[1].split(":")
        if int(hexport, 16) == port and cols[3] == "0A":
            found.add("ipv6:" + addr)
    return found


@pytest.mark.asterisk
def test_every_listed_module_is_loaded(asterisk) -> None:
    out = asterisk.cli("module show")
    loaded = {line.split()[0] for line in out.splitlines() if line.endswith(("core", "extended"))}
    loaded |= set(re.findall(r"^(\S+\.so)\s", out, re.M))
    missing = _modules_wanted() - loaded
    assert not missing, f"modules listed in modules.conf but not running: {sorted(missing)}"
    # autoload=no: nothing outside the list (e.g. music on hold, CDR backends).
    assert "res_musiconhold.so" not in loaded
    assert not any(m.startswith("cdr_") for m in loaded)


@pytest.mark.asterisk
def test_endpoints_and_dialplan_are_loaded(asterisk) -> None:
    endpoints = asterisk.cli("pjsip show endpoints")
    assert "centralino-test" in endpoints
    assert "127.0.0.1/32" in endpoints
    from_test = asterisk.cli("dialplan show from-test")
    assert "Goto(inbound,${EXTEN},1)" in from_test
    inbound = asterisk.cli("dialplan show inbound")
    assert "Stasis(${CENTRALINO_APP},${CENTRALINO_DID},${EXTEN})" in inbound
    assert f"agi://127.0.0.1:{asterisk.agi_port}/route" in asterisk.cli("dialplan show globals")
    assert "ERROR" not in asterisk.log_since(0), asterisk.log_since(0)[-3000:]


@pytest.mark.asterisk
def test_http_ari_and_ami_listen_on_loopback_only(asterisk) -> None:
    assert _listeners(asterisk.http_port) == {"127.0.0.1"}
    assert _listeners(asterisk.ami_port) == {"127.0.0.1"}
    # SIP is the one service meant for the network (the fixture binds it to loopback).
    assert _listeners(asterisk.sip_port) == {"127.0.0.1"}


def _ari_get(url: str, user: str, password: str) -> int:
    req = urllib.request.Request(url)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.asterisk
def test_ari_needs_the_generated_password(asterisk) -> None:
    url = f"{asterisk.ari_url}/asterisk/info"
    assert _ari_get(url, asterisk.ari_user, asterisk.ari_password) == 200
    assert _ari_get(url, asterisk.ari_user, "wrong-" + asterisk.ari_password) == 401
    assert _ari_get(url, asterisk.ari_user, "") == 401
    assert _ari_get(url, "asterisk", "asterisk") == 401


def _ami_login(port: int, user: str, secret: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rwb")
        f.readline()  # banner
        f.write(f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n\r\n".encode())
        f.flush()
        lines = []
        while True:
            line = f.readline().decode().strip()
            if not line:
                break
            lines.append(line)
        return "\n".join(lines)


@pytest.mark.asterisk
def test_ami_needs_the_generated_secret(asterisk) -> None:
    assert "Success" in _ami_login(asterisk.ami_port, asterisk.ami_user, asterisk.ami_secret)
    assert "Error" in _ami_login(asterisk.ami_port, asterisk.ami_user, "wrong")
    assert "Error" in _ami_login(asterisk.ami_port, asterisk.ami_user, "")


def _layout(tmp_path: Path) -> Layout:
    return Layout.for_instance(Path("/"), "unit", tmp_path)


def test_empty_ari_password_is_a_clear_config_error() -> None:
    cfg = Config({"asterisk": {"ami_secret": "s3cret-ami"}}, environ={})
    with pytest.raises(ConfigError, match="CENTRALINO_ASTERISK__ARI_PASSWORD"):
        load_settings(cfg)
    cfg = Config({"asterisk": {"ari_password": "", "ami_secret": "x"}}, environ={})
    with pytest.raises(ConfigError, match="CENTRALINO_ASTERISK__ARI_PASSWORD"):
        load_settings(cfg)


def test_empty_ami_secret_is_a_clear_config_error() -> None:
    cfg = Config({"asterisk": {"ari_password": "p"}}, environ={})
    with pytest.raises(ConfigError, match="CENTRALINO_ASTERISK__AMI_SECRET"):
        load_settings(cfg)


def test_secrets_come_from_the_environment() -> None:
    env = {
        "CENTRALINO_ASTERISK__ARI_PASSWORD": "from-env-ari",
        "CENTRALINO_ASTERISK__AMI_SECRET": "from-env-ami",
    }
    settings = load_settings(Config({}, environ=env))
    assert settings.ari_password == "from-env-ari"
    assert settings.ami_secret == "from-env-ami"


def test_trunk_with_registration_needs_credentials() -> None:
    cfg = Config(
        {"asterisk": {"ari_password": "a", "ami_secret": "b", "trunk_host": "sip.example.it"}},
        environ={},
    )
    with pytest.raises(ConfigError, match="CENTRALINO_ASTERISK__TRUNK_USERNAME"):
        load_settings(cfg)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("fallback_forward_number", "333 123", "E.164"),
        ("sip_port", 70000, "not a port"),
        ("trunk_auth", "digest", "registration"),
        ("instance", "../etc", "instance"),
        ("rtp_start", 30000, "rtp_start"),
    ],
)
def test_bad_settings_are_refused(key: str, value: object, message: str) -> None:
    cfg = Config({"asterisk": {"ari_password": "a", "ami_secret": "b", key: value}}, environ={})
    with pytest.raises(ConfigError, match=message):
        load_settings(cfg)


def test_rendered_files_carry_the_generated_credentials(tmp_path: Path) -> None:
    settings = AsteriskSettings(ari_password="Ari-Xyz-123", ami_secret="Ami-Abc-456")
    files = render(settings, _layout(tmp_path)).files
    assert "password = Ari-Xyz-123" in files["ari.conf"]
    assert "secret = Ami-Abc-456" in files["manager.conf"]
    assert "bindaddr = 127.0.0.1" in files["http.conf"]
    assert "bindaddr = 127.0.0.1" in files["manager.conf"]
    assert "permit = 127.0.0.1/255.255.255.255" in files["manager.conf"]
    assert "deny = 0.0.0.0/0.0.0.0" in files["manager.conf"]
    assert "autoload = no" in files["modules.conf"]
    # No trunk configured: no trunk endpoint, no registration.
    assert "centralino-trunk" not in files["pjsip.conf"]
    assert not re.search(r"^\s*(password|secret)\s*=\s*$", "".join(files.values()), re.M)


def test_trunk_registration_and_ip_auth_render(tmp_path: Path) -> None:
    reg = AsteriskSettings(
        ari_password="a",
        ami_secret="b",
        trunk_host="sip.provider.example",
        trunk_username="0212345678",
        trunk_password="TrunkPw-1",
    )
    text = render(reg, _layout(tmp_path)).files["pjsip.conf"]
    assert "type = registration" in text
    assert "server_uri = sip:sip.provider.example:5060" in text
    assert "password = TrunkPw-1" in text
    assert "context = from-trunk" in text
    ip = AsteriskSettings(
        ari_password="a",
        ami_secret="b",
        trunk_host="sip.provider.example",
        trunk_auth="ip",
        trunk_allowed_ips="203.0.113.10,203.0.113.0/28",
    )
    text = render(ip, _layout(tmp_path)).files["pjsip.conf"]
    assert "type = registration" not in text
    assert "outbound_auth" not in text
    assert "match = 203.0.113.10" in text
    assert "match = 203.0.113.0/28" in text
    # The validation instance never registers in place of the live server.
    text = render(reg, _layout(tmp_path), validation=True).files["pjsip.conf"]
    assert "type = registration" not in text


def test_template_error_names_the_template(tmp_path: Path) -> None:
    (tmp_path / "tpl").mkdir()
    for p in REPO_TEMPLATES.glob("*.j2"):
        (tmp_path / "tpl" / p.name).write_text(p.read_text())
    (tmp_path / "tpl" / "http.conf.j2").write_text("bindport = {{ s.htp_port }}\n")
    settings = AsteriskSettings(ari_password="a", ami_secret="b")
    with pytest.raises(RenderError, match=r"http\.conf\.j2"):
        render(settings, _layout(tmp_path), tmp_path / "tpl")
