"""A provider trunk matched by address, played by SIPp from 127.0.0.2.

The instance here has a real trunk configured (IP authentication, provider at
127.0.0.2) and no local test endpoint, so these calls go through `from-trunk`
exactly as a provider's calls would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from centralino.asterisk.instance import free_rtp_range, free_sip_port
from tests.fixtures.asterisk import AsteriskFixture, spawn_asterisk
from tests.fixtures.sipp import sipp_call, wav_seconds

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]

PROVIDER = "127.0.0.2"


@pytest.fixture(scope="module")
def trunked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskFixture]:
    with spawn_asterisk(
        tmp_path_factory.mktemp("trunk"),
        test_endpoint=False,
        trunk_host=PROVIDER,
        trunk_auth="ip",
        trunk_allowed_ips=f"{PROVIDER}/32",
        fallback_forward_number="",
    ) as ast:
        yield ast


def test_trunk_endpoint_is_loaded(trunked: AsteriskFixture) -> None:
    out = trunked.cli("pjsip show endpoints")
    assert "centralino-trunk" in out
    assert "centralino-test" not in out
    assert f"{PROVIDER}/32" in out


def test_provider_call_reaches_the_inbound_logic(trunked: AsteriskFixture) -> None:
    mark = trunked.log_mark()
    res = sipp_call(trunked, "+390212345678", local_ip=PROVIDER, audio_seconds=0, hold_ms=2000)
    assert res.ok, res.errors or res.output[-2000:]
    log = trunked.log_since(mark)
    assert "+390212345678@from-trunk" in log
    assert '"centralino,+390212345678,+390212345678")' in log
    assert "Playing '" in log


def test_provider_sending_s_with_the_did_in_to(trunked: AsteriskFixture) -> None:
    mark = trunked.log_mark()
    res = sipp_call(
        trunked, "s", to_header="0212345678", local_ip=PROVIDER, audio_seconds=0, hold_ms=2000
    )
    assert res.ok, res.errors or res.output[-2000:]
    log = trunked.log_since(mark)
    assert "s@from-trunk" in log
    assert "0212345678@inbound" in log
    assert "CENTRALINO_DID=+390212345678" in log


def test_provider_call_to_foreign_number_never_dials_the_trunk(trunked: AsteriskFixture) -> None:
    """Toll fraud with a real trunk configured: an international number dialled inbound."""
    mark = trunked.log_mark()
    res = sipp_call(trunked, "0012125550123", local_ip=PROVIDER, audio_seconds=0, hold_ms=2000)
    assert res.ok, res.errors or res.output[-2000:]
    log = trunked.log_since(mark)
    assert "0012125550123@inbound" in log
    assert "@outbound" not in log
    assert "Dial(" not in log
    assert "Called PJSIP" not in log


def test_unknown_source_address_is_rejected(trunked: AsteriskFixture, tmp_path: Path) -> None:
    """127.0.0.3 is neither the provider nor a local endpoint: no call is created."""
    mark = trunked.log_mark()
    res = sipp_call(trunked, "+390212345678", local_ip="127.0.0.3", expect=401)
    assert res.ok, res.errors or res.output[-2000:]
    assert "@from-trunk" not in trunked.log_since(mark)
    assert "@inbound" not in trunked.log_since(mark)


def test_controller_down_forwards_to_the_fallback_number(tmp_path: Path) -> None:
    """Controller down + fallback_forward_number: message, then a real call to the number.

    The provider is a SIPp UAS on 127.0.0.2 that answers the forwarded call;
    the caller is SIPp from the same provider address (an inbound trunk call).
    """
    provider_port = free_sip_port()
    with spawn_asterisk(
        tmp_path,
        test_endpoint=False,
        trunk_host=PROVIDER,
        trunk_port=provider_port,
        trunk_auth="ip",
        trunk_allowed_ips=f"{PROVIDER}/32",
        fallback_forward_number="+390298765432",
        fallback_forward_seconds=10,
        # SIPp's built-in UAS only takes one INVITE: no OPTIONS pings to it.
        trunk_qualify_seconds=0,
    ) as ast:
        _, inner_dir = ast.scratch_dir("uas")
        uas = ast.popen_in_root(
            [
                "sipp", "-sn", "uas", "-i", PROVIDER, "-p", str(provider_port),
                "-mp", str(free_rtp_range(10)[0]),
                "-m", "1", "-nostdin", "-timeout", "90s", "-timeout_error", "-trace_err",
            ],
            cwd=inner_dir,
        )  # fmt: skip
        try:
            mark = ast.log_mark()
            # Speak through the forward message and stay on the forwarded call a while.
            speak = wav_seconds(ast.layout.sounds / "centralino-inoltro.wav") + 8
            res = sipp_call(ast, "0212345678", local_ip=PROVIDER, audio_seconds=speak, hold_ms=0)
            assert res.ok, res.errors or res.output[-2000:]
            out, _ = uas.communicate(timeout=60)
        finally:
            if uas.poll() is None:
                uas.kill()
                uas.wait()
        log = ast.log_since(mark)
        assert uas.returncode == 0, f"UAS rc {uas.returncode}\n{out[-1500:]}\n{log[-4000:]}"
        assert "centralino-inoltro" in log or "pls-hold-while-try" in log
        assert 'Dial("PJSIP/centralino-trunk-' in log
        assert "PJSIP/+390298765432@centralino-trunk" in log
        assert "answered PJSIP/centralino-trunk" in log
