"""``[voice]``, ``[vad]`` and ``[stt]`` reach the voice pipeline that ``centralino serve`` builds.

``pbx.cli.build_conversation_factory`` is the controller's own wiring; the values come
from a real TOML file and real environment variables through ``load_config``, and the
conversation a call gets must carry them. Bad values stop start-up with the key named,
before any model is loaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.conversation import CallContext
from agent.stt.vad import VADSettings
from agent.voice.pipeline import VoiceConversation, VoiceSettings
from centralino.config import Config, ConfigError, load_config
from pbx.cli import build_conversation_factory, stt_settings, voice_settings
from pbx.settings import PbxSettings
from tests.pbx.conftest import WHISPER_MODEL

VOICE = PbxSettings(conversation="voice")
CTX = CallContext("call-1", 1, "demo", "+393331234567", "+390212345678")


def write_toml(path: Path, text: str, model_dir: Path = WHISPER_MODEL, stt: str = "") -> Path:
    """A config file; ``stt`` adds lines to its ``[stt]`` table (TOML allows one)."""
    runtime = path.parent / "var"
    path.write_text(
        f'[paths]\nruntime_dir = "{runtime}"\n[stt]\nmodel_dir = "{model_dir}"\n{stt}' + text
    )
    return path


async def test_voice_and_vad_values_from_toml_and_env_reach_the_pipeline(
    tmp_path: Path, whisper_model: Path
) -> None:
    toml = write_toml(
        tmp_path / "centralino.toml",
        "[voice]\nbarge_in_ms = 320\nearly_stt_ms = 300\n"
        'ack_phrases = ["Un momento, prego."]\n'
        "[vad]\nend_silence_ms = 700\naggressiveness = 3\n",
    )
    # The environment overrides the file (CENTRALINO_<SECTION>__<KEY>).
    env = {"CENTRALINO_VOICE__SILENCE_TIMEOUT_S": "4.5", "CENTRALINO_VAD__END_SILENCE_MS": "650"}
    config = load_config(toml, environ=env)
    factory, _tts = await build_conversation_factory(config, VOICE)
    conversation = factory(CTX)
    assert isinstance(conversation, VoiceConversation)
    voice = conversation.settings
    assert voice.barge_in_ms == 320 and voice.early_stt_ms == 300
    assert voice.ack_phrases == ("Un momento, prego.",)
    assert voice.silence_timeout_s == 4.5  # from the environment
    assert voice.max_call_s == VoiceSettings().max_call_s  # untouched keys keep defaults
    # The endpointer that cuts the caller's turns is built with them.
    vad = conversation.endpointer.settings
    assert vad.end_silence_ms == 650  # the environment beats the file's 700
    assert vad.aggressiveness == 3
    assert vad.preroll_ms == VADSettings().preroll_ms
    # Every call gets them, not only the first.
    assert factory(CTX).endpointer.settings.end_silence_ms == 650  # type: ignore[attr-defined]


async def refused_at_start_up(
    tmp_path: Path, toml: str, env: dict[str, str], stt: str = ""
) -> tuple[Config, str]:
    """The config and the ConfigError that building the voice conversation raises."""
    # No Whisper model there: the error must come from the setting, before any loading.
    missing = tmp_path / "no-model"
    path = write_toml(tmp_path / "c.toml", toml, model_dir=missing, stt=stt)
    config = load_config(path, environ=env)
    with pytest.raises(ConfigError) as error:
        await build_conversation_factory(config, VOICE)
    return config, str(error.value)


@pytest.mark.parametrize(
    ("toml", "env", "named"),
    [
        ("[vad]\naggressiveness = 7\n", {}, "aggressiveness must be 0..3, got 7"),
        ("[vad]\nend_silence_ms = -20\n", {}, "end_silence_ms must be at least 1 ms"),
        ("[vad]\nstart_voiced_ms = 300\n", {}, "start_voiced_ms (300) cannot exceed"),
        ("[voice]\nbarge_in_ms = -1\n", {}, "barge_in_ms must be 0 or more, got -1"),
        ("[voice]\nsilence_timeout_s = 0\n", {}, "silence_timeout_s must be more than 0"),
        ('[voice]\nack_phrases = [""]\n', {}, "ack_phrases must not contain empty"),
        ("[voice]\nbarge_in_msec = 300\n", {}, "unknown setting(s) in [voice]: barge_in_msec"),
        ("", {"CENTRALINO_VOICE__BARGE_IN_MS": "fast"}, "CENTRALINO_VOICE__BARGE_IN_MS"),
        ("", {"CENTRALINO_VAD__END_SILENCE_MS": "0.5s"}, "CENTRALINO_VAD__END_SILENCE_MS"),
    ],
)
async def test_a_bad_voice_or_vad_value_stops_start_up_naming_the_key(
    tmp_path: Path, toml: str, env: dict[str, str], named: str
) -> None:
    config, error = await refused_at_start_up(tmp_path, toml, env)
    assert named in error
    section = "[vad]" if "VAD" in named or "[vad]" in toml else "[voice]"
    if not env:
        assert section in error
    with pytest.raises(ConfigError):
        voice_settings(config)


@pytest.mark.parametrize(
    ("stt", "env", "named"),
    [
        ("beam_size = 0\n", {}, "[stt]: beam_size must be at least 1, got 0"),
        ("workers = 0\n", {}, "[stt]: workers must be at least 1, got 0"),
        ('device = "gpu"\n', {}, "[stt]: device must be one of cpu, cuda, auto, got 'gpu'"),
        ('compute_type = "int9"\n', {}, "compute_type must be one of"),
        ("cpu_threads = -2\n", {}, "cpu_threads must be 0 (all cores) or more, got -2"),
        ("window_margin_s = -1.0\n", {}, "window_margin_s must be between 0 and 20 seconds"),
        ("window_margin_s = 29.9\n", {}, "window_margin_s must be between 0 and 20 seconds"),
        ("min_window_s = -5\n", {}, "min_window_s must be between 0 and 20 seconds"),
        ("carrier_max_s = 25\n", {}, "[stt]: carrier_max_s must be between 0 (off) and 20"),
        ("no_speech_threshold = 1.5\n", {}, "no_speech_threshold must be between 0 and 1"),
        ("min_confidence = -0.1\n", {}, "min_confidence must be between 0 and 1"),
        ("noise_flatness_max = 0\n", {}, "noise_flatness_max must be more than 0"),
        ("log_prob_threshold = 0.5\n", {}, "log_prob_threshold must be 0 or less"),
        ('language = " "\n', {}, "language must not be empty"),
        ("beam = 5\n", {}, "unknown setting(s) in [stt]: beam"),
        ("", {"CENTRALINO_STT__BEAM_SIZE": "0"}, "[stt]: beam_size must be at least 1"),
        ("", {"CENTRALINO_STT__WORKERS": "two"}, "CENTRALINO_STT__WORKERS"),
    ],
)
async def test_a_bad_stt_value_stops_start_up_naming_the_key(
    tmp_path: Path, stt: str, env: dict[str, str], named: str
) -> None:
    config, error = await refused_at_start_up(tmp_path, "", env, stt=stt)
    assert named in error
    with pytest.raises(ConfigError):
        stt_settings(config)


def test_good_stt_values_from_toml_and_env_are_read(tmp_path: Path) -> None:
    toml = write_toml(
        tmp_path / "c.toml",
        "",
        stt='device = "auto"\ncompute_type = "int8_float16"\nbeam_size = 1\nmin_window_s = 0\n',
    )
    config = load_config(toml, environ={"CENTRALINO_STT__WORKERS": "2"})
    stt = stt_settings(config)
    assert (stt.device, stt.compute_type, stt.beam_size, stt.min_window_s) == (
        "auto",
        "int8_float16",
        1,
        0.0,
    )
    assert stt.workers == 2 and stt.model_dir == WHISPER_MODEL


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ("[vad]\naggressiveness = 9\n", "[vad]: aggressiveness must be 0..3, got 9"),
        ("[stt]\nbeam_size = 0\n", "[stt]: beam_size must be at least 1, got 0"),
    ],
)
def test_centralino_serve_refuses_a_bad_vad_or_stt_value_before_touching_anything(
    tmp_path: Path, section: str, named: str
) -> None:
    runtime = tmp_path / "var"
    toml = tmp_path / "c.toml"
    toml.write_text(
        f'[paths]\nruntime_dir = "{runtime}"\n'
        '[asterisk]\nari_password = "x"\nami_secret = "y"\n'
        '[pbx]\nconversation = "voice"\n' + section
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENTRALINO_")}
    res = subprocess.run(
        [str(Path(sys.executable).parent / "centralino"), "--config", str(toml), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert named in res.stderr
    assert not (runtime / "centralino.db").exists()  # nothing was touched
