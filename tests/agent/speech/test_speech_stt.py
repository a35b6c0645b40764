"""Local Whisper STT on real Italian telephone prompts (asterisk-core-sounds-it), VAD
endpointing on real audio, the hallucination filter and start-up model errors."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
import pytest

from agent.audio import frames, read_wav, silence
from agent.audio.prompts import load_prompts, prompts_dir
from agent.stt.base import STTModelError
from agent.stt.hallucinations import is_hallucination, normalize
from agent.stt.settings import STTSettings
from agent.stt.vad import Endpointer, VADSettings
from agent.stt.whisper import WhisperSTT

MODEL_DIR = Path(STTSettings().model_dir)
needs_model = pytest.mark.skipif(
    not (MODEL_DIR / "model.bin").exists(), reason="Whisper model not installed (make install)"
)
needs_prompts = pytest.mark.skipif(not prompts_dir().exists(), reason="Italian prompts missing")


@pytest.fixture(scope="module")
def prompts() -> dict[str, Path]:
    return {p.name: p.path for p in load_prompts()}


def words(text: str) -> set[str]:
    return set(normalize(text).split())


@needs_model
@needs_prompts
@pytest.mark.parametrize("fast", [True, False], ids=["fast-window", "standard-30s"])
def test_transcribes_real_italian_prompt(stt: WhisperSTT, prompts, fast: bool) -> None:
    pcm, _ = read_wav(prompts["vm-intro"])  # "Prego lasciare un messaggio dopo il segnale..."
    t = stt.transcribe_sync(pcm, fast=fast)
    assert t.path == ("fast" if fast else "standard")
    assert {"prego", "lasciare", "messaggio", "segnale", "cancelletto"} <= words(t.text)
    assert t.confidence is not None and 0.3 < t.confidence <= 1.0
    assert t.provider == "whisper:base"
    assert abs(t.audio_s - 7.0) < 0.2


@needs_model
@needs_prompts
async def test_async_transcribe_runs_off_the_loop(stt: WhisperSTT, prompts) -> None:
    """While Whisper works, the event loop keeps ticking (inference in a worker thread)."""
    pcm, _ = read_wav(prompts["agent-alreadyon"])
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    t = await stt.transcribe(pcm, prompt="operatore, cancelletto")
    task.cancel()
    assert {"digitare", "numero", "cancelletto"} <= words(t.text)
    assert ticks >= 5


@needs_model
def test_silence_and_noise_give_no_text(stt: WhisperSTT) -> None:
    rng = np.random.default_rng(7)
    hiss = rng.normal(0, 200, 16000 * 2).astype("<i2").tobytes()
    for audio in (silence(2000), hiss, silence(50)):
        t = stt.transcribe_sync(audio)
        assert t.text == "", t
        assert t.dropped


@needs_model
@needs_prompts
def test_vocabulary_prompt_is_accepted(stt: WhisperSTT, prompts) -> None:
    pcm, _ = read_wav(prompts["conf-extended"])  # "La conferenza è stata prolungata."
    t = stt.transcribe_sync(pcm, prompt="Navigli, Isola, Brera, trilocale, conferenza")
    assert {"conferenza", "prolungata"} <= words(t.text)


@needs_prompts
def test_vad_endpoints_real_speech() -> None:
    """Two real prompts separated by 1.5 s of silence -> two utterances with pre-roll."""
    ps = {p.name: p.path for p in load_prompts()}
    first, _ = read_wav(ps["vm-intro"])
    second, _ = read_wav(ps["auth-thankyou"])
    stream = silence(1000) + first + silence(1500) + second + silence(1000)
    ep = Endpointer(VADSettings(end_silence_ms=550, preroll_ms=300))
    segments = [s for f in frames(stream) if (s := ep.push(f))]
    assert len(segments) == 2
    a, b = segments
    assert a.reason == b.reason == "silence"
    # Starts within the 300 ms pre-roll before the speech at ~1.0 s (the prompt itself
    # has a few hundred ms of leading silence).
    assert 600 <= a.start_ms <= 1400
    assert abs(a.duration_s - len(first) / 32000) < 1.0
    # End detected about end_silence_ms after the first prompt's last voiced frame.
    assert 1000 + len(first) / 32 - 600 < a.end_ms < 1000 + len(first) / 32 + 700
    assert b.start_ms > a.end_ms and b.speech_ms >= 200
    assert ep.flush() is None


def test_vad_ignores_silence_clicks_and_cuts_monologues() -> None:
    ep = Endpointer(VADSettings(max_utterance_ms=1000))
    assert all(ep.push(f) is None for f in frames(silence(3000)))
    assert not ep.in_speech
    # A click: 40 ms of loud noise is below min_speech_ms.
    rng = np.random.default_rng(3)
    click = rng.normal(0, 8000, 640).astype("<i2").tobytes()
    assert all(ep.push(f) is None for f in frames(click + silence(1000)))
    with pytest.raises(ValueError, match="640-byte"):
        ep.push(b"\x00" * 1000)
    with pytest.raises(ValueError, match="aggressiveness"):
        Endpointer(VADSettings(aggressiveness=5))


@needs_prompts
def test_vad_cuts_long_speech_at_max_length() -> None:
    ps = {p.name: p.path for p in load_prompts()}
    long, _ = read_wav(ps["conf-adminmenu-162"])  # 22 s of continuous speech
    ep = Endpointer(VADSettings(max_utterance_ms=5000, end_silence_ms=800))
    segments = [s for f in frames(long + silence(1000)) if (s := ep.push(f))]
    assert segments[0].reason == "max_length"
    assert all(s.duration_s <= 5.02 for s in segments)
    assert len(segments) >= 4


@pytest.mark.parametrize(
    "text",
    [
        "Sottotitoli a cura di QTSS",
        "Sottotitoli creati dalla comunità Amara.org",
        "Grazie per la visione!",
        "[Musica]",
        "(applausi)",
        "...",
        "e e e e e e e e e e",
    ],
)
def test_hallucinations_are_dropped(text: str) -> None:
    assert is_hallucination(text)


@pytest.mark.parametrize(
    "text",
    [
        "Buongiorno, vorrei vendere il mio trilocale a Navigli.",
        "Grazie",  # a real answer unless Whisper itself suspects noise
        "Mi chiamo Mario Rossi, grazie per la visione dell'appartamento.",
    ],
)
def test_real_answers_are_kept(text: str) -> None:
    assert is_hallucination(text) == ""
    assert is_hallucination("grazie", suspect_noise=True)


def test_missing_model_file_is_a_clear_startup_error(tmp_path: Path) -> None:
    stt = WhisperSTT(STTSettings(model_dir=tmp_path / "nowhere"))
    with pytest.raises(STTModelError, match=r"nowhere does not exist.*make install"):
        stt.load()
    folder = tmp_path / "whisper"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(STTModelError, match=r"whisper/model\.bin is missing.*20-speech\.sh"):
        WhisperSTT(STTSettings(model_dir=folder)).load()


@needs_model
def test_corrupt_model_file_is_a_clear_startup_error(tmp_path: Path) -> None:
    folder = tmp_path / "whisper"
    shutil.copytree(MODEL_DIR, folder)
    model = folder / "model.bin"
    # Truncate: the typical result of an interrupted copy or a missing part2.
    with model.open("r+b") as fh:
        fh.truncate(model.stat().st_size // 3)
    with pytest.raises(STTModelError, match=r"model\.bin.*corrupt.*make install"):
        WhisperSTT(STTSettings(model_dir=folder)).load()
    model.write_bytes(b"")
    with pytest.raises(STTModelError, match=r"model\.bin is empty"):
        WhisperSTT(STTSettings(model_dir=folder)).load()
