"""`centralino run` (what `make run` starts) end to end, on free ports.

Real Asterisk from the sid root, the real AGI, controller and admin processes,
and a real SIP/RTP demo call from the simulated caller; nothing is faked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from centralino.asterisk.instance import free_rtp_range, free_sip_port, free_tcp_ports, unique_name
from centralino.calls.models import Call
from centralino.config import load_config
from centralino.db.session import Database

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def test_run_places_demo_call_and_stops_cleanly(tmp_path: Path) -> None:
    http_port, ami_port, agi_port, admin_port = free_tcp_ports(4)
    rtp_start, rtp_end = free_rtp_range(100)
    instance = unique_name("quickstart")
    cfg = tmp_path / "centralino.toml"
    cfg.write_text(
        f"""
[paths]
runtime_dir = "{tmp_path / "var"}"

[asterisk]
instance = "{instance}"
sip_bind = "127.0.0.1"
sip_port = {free_sip_port()}
http_port = {http_port}
ami_port = {ami_port}
agi_port = {agi_port}
rtp_start = {rtp_start}
rtp_end = {rtp_end}

[admin]
port = {admin_port}
""",
        encoding="utf-8",
    )
    env = dict(os.environ, CENTRALINO_CONFIG=str(cfg))
    env.pop("DATABASE_URL", None)
    exe = Path(sys.executable).parent / "centralino"
    proc = subprocess.run(
        [str(exe), "run", "--exit-after-demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "SIP status      : 200 OK (answered: True" in out, out[-4000:]
    assert "tenant          : demo" in out
    heard = re.search(r"caller heard    : ([\d.]+) s of audio, ([\d.]+) s non-silent", out)
    assert heard and float(heard.group(2)) > 1.0, out[-4000:]
    assert f"Admin: http://127.0.0.1:{admin_port}/" in out
    # The voice agent ran the conversation and the lead reached the database.
    assert "lead stored     : " in out and "zone=Navigli" in out, out[-4000:]
    assert "stopped" in out.splitlines()[-1]
    # The generated config holds secrets, readable by the owner only.
    text = cfg.read_text()
    assert re.search(r'ari_password = "[^"]{20,}"', text)
    assert oct(cfg.stat().st_mode & 0o777) == "0o600"
    db = Database(load_config(cfg, environ={}).database_url)
    try:
        with db.session() as s:
            calls = s.query(Call).all()
            assert len(calls) == 1
            assert calls[0].state == "ended" and calls[0].caller_id == "+393331234567"
    finally:
        db.dispose()
    # Ctrl-C path: every child stopped, no process of this instance left.
    left = subprocess.run(["pgrep", "-f", instance], capture_output=True, text=True)
    assert left.stdout.strip() == "", left.stdout
