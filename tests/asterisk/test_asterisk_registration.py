"""Trunk registration with a real registrar, and the LAN softphone account.

The provider's registrar is a SIPp server on 127.0.0.2 that challenges the
REGISTER (401 with a digest nonce), verifies the credentials Asterisk sends
with SIPp's ``verifyauth`` and answers 200 only when they match.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from centralino.asterisk.instance import free_rtp_range, free_sip_port, unique_name
from centralino.asterisk.manage import problems_in_log
from tests.fixtures.asterisk import AsteriskFixture, asterisk_prefix, spawn_asterisk

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]

PROVIDER = "127.0.0.2"
USER = "0298765432"

REGISTRAR = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="registrar">
  <recv request="REGISTER" crlf="true"/>
  <send><![CDATA[
      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: Digest realm="provider.example", nonce="47ebe028cda119c35d4877b383027d"
      Content-Length: 0
    ]]></send>
  <recv request="REGISTER" crlf="true">
    <action>
      <verifyauth assign_to="authvalid" username="{user}" password="{password}"/>
    </action>
  </recv>
  <nop test="authvalid" next="ok"/>
  <send next="end"><![CDATA[
      SIP/2.0 403 Forbidden
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]></send>
  <label id="ok"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Contact:];expires=3600
      Expires: 3600
      Content-Length: 0
    ]]></send>
  <label id="end"/>
</scenario>
"""


@contextmanager
def registrar(password: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """A SIPp registrar on 127.0.0.2, started before Asterisk so the first REGISTER
    (sent at boot) reaches it."""
    prefix = asterisk_prefix()
    name = unique_name("registrar")
    inner = f"/srv/centralino/{name}" if str(prefix) != "/" else None
    folder = prefix / inner.lstrip("/") if inner else Path(tempfile.mkdtemp())
    folder.mkdir(parents=True)
    (folder / "registrar.xml").write_text(REGISTRAR.format(user=USER, password=password))
    port = free_sip_port()
    argv = ["sipp", "-sf", "registrar.xml", "-i", PROVIDER, "-p", str(port),
            "-mp", str(free_rtp_range(10)[0]), "-m", "1",
            "-nostdin", "-timeout", "60s", "-trace_err"]  # fmt: skip
    if inner:
        cmd = ["chroot", str(prefix), "sh", "-c", f'cd "{inner}" && exec "$@"', "sh", *argv]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    else:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=folder
        )
    try:
        _wait_bound(PROVIDER, port)
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_bound(host: str, port: int, timeout: float = 20.0) -> None:
    """Until SIPp listens: Asterisk's first REGISTER must not hit a closed port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                return  # taken: SIPp is listening
        time.sleep(0.05)
    raise AssertionError(f"SIPp registrar did not listen on {host}:{port}")


def _wait_status(ast: AsteriskFixture, wanted: str, timeout: float = 40.0) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = ast.cli("pjsip show registrations")
        if re.search(rf"\s{wanted}\b", status):
            break
        time.sleep(0.2)
    return status


def test_trunk_registers_with_the_configured_credentials(tmp_path: Path) -> None:
    with (
        registrar("Trunk-Secret-9") as (port, proc),
        spawn_asterisk(
            tmp_path,
            trunk_host=PROVIDER,
            trunk_port=port,
            trunk_qualify_seconds=0,  # the SIPp registrar answers REGISTER only
            trunk_username=USER,
            trunk_password="Trunk-Secret-9",
            trunk_from_domain="provider.example",
            softphone_password="Phone-Secret-7",
        ) as ast,
    ):
        status = _wait_status(ast, "Registered")
        assert "centralino-trunk-reg" in status
        assert re.search(r"\sRegistered\b", status), status
        # 200 is only sent when SIPp's verifyauth accepted the digest response.
        proc.wait(timeout=30)
        assert proc.returncode == 0
        endpoints = ast.cli("pjsip show endpoints")
        assert "centralino-phone" in endpoints and "centralino-trunk" in endpoints
        errors, _ = problems_in_log(ast.log_since(0), config_only=True)
        assert not errors, errors


def test_wrong_trunk_password_is_refused_by_the_registrar(tmp_path: Path) -> None:
    with (
        registrar("Trunk-Secret-9") as (port, _proc),
        spawn_asterisk(
            tmp_path,
            trunk_host=PROVIDER,
            trunk_port=port,
            trunk_qualify_seconds=0,  # the SIPp registrar answers REGISTER only
            trunk_username=USER,
            trunk_password="Not-The-Right-One",
        ) as ast,
    ):
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and "403 Forbidden" not in ast.log_since(0):
            time.sleep(0.2)
        log = ast.log_since(0)
        assert "403 Forbidden fatal response" in log, log[-2000:]
        status = ast.cli("pjsip show registrations")
        assert not re.search(r"\sRegistered\b", status), status
        # The registrar answered 403 because the digest did not verify.
