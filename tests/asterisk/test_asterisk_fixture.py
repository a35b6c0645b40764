"""The session Asterisk fixture really runs our rendered configuration."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asterisk


def test_fixture_boots_rendered_config(asterisk) -> None:
    out = asterisk.cli("core show settings")
    assert str(asterisk.layout.inner) in out
    assert asterisk.running()
