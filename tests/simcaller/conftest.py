"""Fixtures for the simulated caller tests: SIPp user agents from the Asterisk root."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from centralino.simcaller.prompts import italian_prompts
from centralino.simcaller.sipp import SippError, SippServer, sipp_command

SCENARIOS = Path(__file__).resolve().parent / "sipp"


def _need(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sipp_ok() -> None:
    try:
        sipp_command()
    except SippError as exc:
        _need(str(exc))


@pytest.fixture(scope="session")
def prompt_wavs() -> dict[str, Path]:
    """name -> WAV of the Italian Asterisk prompts (real recorded speech)."""
    prompts = {p.name: p.wav for p in italian_prompts()}
    if not prompts:
        _need("Italian Asterisk prompts not installed (run scripts/install.sh)")
    return prompts


@pytest.fixture
def uas(sipp_ok: None) -> Iterator[Callable[..., SippServer]]:
    """Start a SIPp UAS: ``uas("uas_greeting.xml", audio=wav)`` or ``uas("uas")``."""
    started: list[SippServer] = []

    def start(scenario: str, **kwargs: object) -> SippServer:
        scen: str | Path = SCENARIOS / scenario if scenario.endswith(".xml") else scenario
        server = SippServer(scen, **kwargs).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for s in started:
        s.stop()
