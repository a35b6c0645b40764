"""The voice agent end to end: the ``pbx_env`` controller (tests/pbx) on the real
Asterisk, switched to the voice conversation exactly as ``centralino serve`` builds it
(``pbx.cli.build_conversation_factory`` with ``[pbx] conversation = "voice"``: Whisper
STT from var/models, the rules dialogue, cached offline TTS) and with the lead store
``build_controller`` plugs in (``LeadService.save_from_call``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from centralino.calls.models import Call
from centralino.leads.models import Lead
from centralino.leads.service import LeadService
from centralino.simcaller import CallReport, place_call
from pbx.cli import build_conversation_factory
from pbx.settings import PbxSettings
from tests.e2e.audio import speech_wav
from tests.pbx.conftest import DEMO_DID, PbxEnv, error_lines, pbx_env  # noqa: F401
from tests.pbx.test_voice_agent import whisper_model  # noqa: F401


@dataclass
class VoiceEnv:
    pbx: PbxEnv
    wavs: Path
    caplog: pytest.LogCaptureFixture

    def say(self, text: str, **options: Any) -> dict[str, Any]:
        """A script utterance: ``text`` pre-rendered and trimmed (tests/e2e/audio.py)."""
        return {"wav": str(speech_wav(self.wavs, text)), "label": text, **options}

    async def call(
        self, script: dict[str, Any], record: Path | None = None, timeout: float = 15
    ) -> CallReport:
        report = await place_call(
            DEMO_DID, port=self.pbx.asterisk.sip_port, script=script, record=record,
            timeout=timeout,
        )  # fmt: skip
        # The session stores the call row, then the lead, then ends.
        await self.pbx.wait_idle(60)
        assert report.answered, report.summary()
        return report

    def stored(self, report: CallReport) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The call row (with ``turns`` and ``events``) and its lead row, as plain dicts."""
        with self.pbx.db.session() as s:
            call = s.query(Call).filter(Call.sip_call_id == report.call_id).one()
            row = _columns(call)
            row["turns"] = [_columns(t) for t in sorted(call.turns, key=lambda t: t.index)]
            row["events"] = [_columns(e) for e in call.events]
            lead = s.query(Lead).filter(Lead.call_id == call.id).one_or_none()
            return row, (_columns(lead) if lead is not None else None)

    def problems(self) -> list[str]:
        """ERROR records and any record carrying a traceback, from every logger."""
        tracebacks = [
            f"{r.name}: {r.getMessage()} (traceback)"
            for r in self.caplog.records
            if r.exc_info and r.levelno < logging.ERROR
        ]
        return error_lines(self.caplog) + tracebacks


@pytest.fixture
async def voice_env(
    pbx_env: PbxEnv,  # noqa: F811
    whisper_model: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[VoiceEnv]:
    config = pbx_env.config.with_overrides({"stt": {"model_dir": str(whisper_model.resolve())}})
    factory, _tts = await build_conversation_factory(config, PbxSettings(conversation="voice"))
    pbx_env.controller.conversation_factory = factory
    pbx_env.controller.lead_sink = LeadService(pbx_env.db, config).save_from_call
    yield VoiceEnv(pbx_env, _wav_cache(tmp_path_factory), caplog)


def _wav_cache(factory: pytest.TempPathFactory) -> Path:
    path = factory.getbasetemp() / "e2e-speech"
    path.mkdir(exist_ok=True)
    return path


def _columns(obj: Any) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}
