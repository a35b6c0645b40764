"""Barge-in over real SIP: the caller talks over the greeting and the agent stops.

Measured at the caller (``centralino.simcaller``), on its monotonic clock:

* ``speech_start``: when the first RTP packet of the caller's utterance left
  (``UtteranceReport.sent_start_s``; the WAV is trimmed, so its first sample is speech);
* ``agent_end``: the end of the last voiced 20 ms frame (> -45 dBFS) of the agent's
  greeting as it *arrived* at the caller (the heard segment that spans
  ``speech_start``; segments merge voiced frames across gaps < 0.6 s);
* ``stop_ms = agent_end - speech_start - 240``: the time the agent took to fall silent
  after the caller had spoken the 240 ms the agent needs to call it a barge-in
  (``VoiceSettings.barge_in_ms``). It includes the RTP path in both directions,
  Asterisk's media buffer after FLUSH_MEDIA and the VAD's frame alignment.

The issue asks for ``stop_ms <= 300``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import VoiceEnv

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]

DETECTION_MS = 240  # VoiceSettings.barge_in_ms
STOP_LIMIT_MS = 300


async def test_the_caller_talks_over_the_greeting_and_the_agent_stops(
    voice_env: VoiceEnv, tmp_path: Path
) -> None:
    script = {
        "utterances": [
            voice_env.say(
                "Il mio nome è Mario Rossi, vorrei vendere la mia villa.",
                barge_in_after_ms=1500,  # the greeting lasts about 7 s
            )
        ],
        "agent_silence_ms": 1500,
        "max_wait_ms": 20000,
    }
    report = await voice_env.call(script, record=tmp_path / "heard.wav")
    u = report.utterances[0]
    assert u.barge_in and not u.error and u.sent_start_s is not None, report.summary()
    speech_start = u.sent_start_s
    greeting = [s for s in report.heard.segments if s.start_s <= speech_start < s.end_s]
    assert greeting, (speech_start, report.heard.segments)
    stop_ms = (greeting[0].end_s - speech_start) * 1000 - DETECTION_MS
    assert stop_ms <= STOP_LIMIT_MS, (
        f"agent audio ran {stop_ms:.0f} ms past the barge-in point",
        report.heard.segments,
    )
    # It listened: the caller's words were understood and answered after the barge-in.
    # ("bilocale" here came out as "di locale" from Whisper base: reported.)
    assert u.response_latency_ms is not None, report.summary()
    call, lead = voice_env.stored(report)
    # The pipeline says so in the call's timeline. (The greeting *turn* is recorded as
    # not interrupted: it was queued whole before the caller spoke — reported.)
    assert "barge_in" in {e["kind"] for e in call["events"]}, call["events"]
    assert lead is not None and lead["name"] == "Mario Rossi", (lead, call["turns"])
    said = [t["text"] for t in call["turns"] if t["speaker"] == "caller"]
    print(f"barge-in: agent stopped {stop_ms:.0f} ms after detection; caller said {said}")
    assert lead["request_type"] == "sell" and lead["property_type"] == "villa", (lead, said)
    assert voice_env.problems() == []
