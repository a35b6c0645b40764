"""Silence, noise and a caller who hangs up mid-sentence, over real SIP.

Whatever the caller does, the call row is completed, the lead (when the caller gave
anything) is stored, and the controller logs no error or traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.audio import noise_wav, speech_wav
from tests.e2e.conftest import VoiceEnv

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]


async def test_a_silent_caller_is_prompted_then_closed_politely(voice_env: VoiceEnv) -> None:
    # No utterance: the caller listens until the agent hangs up (or 90 s pass).
    report = await voice_env.call({"utterances": [], "hangup_after_ms": 90000})
    assert report.hangup_by == "callee", report.summary()
    call, lead = voice_env.stored(report)
    assert call["state"] == "ended" and call["ended_at"] is not None, call
    assert call["outcome"] == "abandoned", call
    # Nothing from the caller: no lead is delivered to the agents; the call row keeps
    # the caller id for a call-back, and the session says why it stored no lead.
    assert lead is None, lead
    assert call["caller_id"] == report.caller_id, call
    assert any(e["kind"] == "lead_skipped" for e in call["events"]), call["events"]
    agent = [t["text"] for t in call["turns"] if t["speaker"] == "agent"]
    assert any("Mi sente" in t for t in agent), agent  # prompted before closing
    assert not [t for t in call["turns"] if t["speaker"] == "caller" and t["text"]], call
    assert voice_env.problems() == []


async def test_noise_on_the_line_is_not_taken_for_words(
    voice_env: VoiceEnv, tmp_path: Path
) -> None:
    noise = noise_wav(tmp_path / "noise.wav", 3.0, dbfs=-20.0)
    script = {
        "utterances": [
            {"wav": str(noise), "wait_for_agent": True},
            # Then the caller speaks: the noise did not derail the call.
            voice_env.say("Il mio nome è Mario Rossi.", wait_for_agent=False, pause_ms=1500),
        ],
        "agent_silence_ms": 1500,
        "max_wait_ms": 20000,
    }
    report = await voice_env.call(script)
    call, lead = voice_env.stored(report)
    assert call["state"] == "ended", call
    said = [t["text"] for t in call["turns"] if t["speaker"] == "caller"]
    # The call goes on: the words after the noise are heard and make the lead.
    assert said and "Mario Rossi" in said[-1], said
    assert lead is not None and lead["name"] == "Mario Rossi", (lead, said)
    assert call["outcome"] == "lead", call
    assert voice_env.problems() == []
    # The only words stored for the caller are the ones spoken: the noise is dropped
    # by the STT's spectral-flatness gate before Whisper could echo the vocabulary
    # prompt ("Brera, Isola, Lillocale") as words.
    assert len(said) == 1, f"noise transcribed as caller words: {said[:-1]}"


async def test_a_caller_who_hangs_up_mid_sentence_leaves_a_lead(voice_env: VoiceEnv) -> None:
    sentence = "Vorrei vendere il mio bilocale nella zona dei Navigli."
    cut = {"wav": str(speech_wav(voice_env.wavs, sentence, cut_at=0.55)), "label": "cut"}
    script = {
        "utterances": [
            voice_env.say("Il mio nome è Mario Rossi.", wait_for_agent=True),
            {**cut, "wait_for_agent": True},
        ],
        "hangup_after_ms": 0,  # BYE right after the last packet of the cut sentence
        "agent_silence_ms": 1500,
        "max_wait_ms": 20000,
    }
    report = await voice_env.call(script)
    assert report.hangup_by == "caller", report.summary()
    call, lead = voice_env.stored(report)
    assert call["state"] == "ended" and call["outcome"] == "lead", call
    assert lead is not None, call["data"]
    assert lead["name"] == "Mario Rossi", lead
    # The half sentence reached the dialogue after the hang-up.
    said = [t["text"] for t in call["turns"] if t["speaker"] == "caller"]
    assert len(said) == 2 and "vend" in said[1].lower(), said
    assert lead["request_type"] == "sell", (lead, said)
    assert voice_env.problems() == []
