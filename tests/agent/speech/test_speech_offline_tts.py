"""Offline Italian TTS through the real Debian engines (pico2wave, festival, espeak-ng)."""

from __future__ import annotations

import shutil

import pytest

from agent.audio import is_silent, rms_dbfs
from agent.tts.base import TTSError, Voice
from agent.tts.offline import OfflineTTS
from agent.tts.text import split_sentences

SHORT = "Buongiorno, ha chiamato l'agenzia Rossi. Come posso aiutarla?"
LONG = " ".join(
    [
        "Buongiorno, ha chiamato l'agenzia immobiliare Rossi di Milano.",
        "Sono l'assistente virtuale dell'agenzia e posso raccogliere la sua richiesta.",
        "Abbiamo appartamenti in vendita e in affitto nelle zone di Navigli, Città Studi,",
        "Porta Romana e Isola, con tagli dal monolocale al quadrilocale con terrazzo.",
        "Mi dica pure il suo nome, che tipo di immobile cerca, la zona che preferisce",
        "e il budget indicativo, così un nostro consulente potrà richiamarla al più presto.",
        "Se preferisce parlare subito con una persona, prema zero in qualsiasi momento.",
        "Grazie per aver chiamato, e buona giornata.",
    ]
    * 3
)


def installed_engines() -> list[str]:
    try:
        return OfflineTTS().engines
    except TTSError:
        return []


@pytest.mark.parametrize("engine", ["pico2wave", "festival", "espeak-ng"])
async def test_long_italian_text_is_not_truncated(engine: str) -> None:
    if engine not in installed_engines():
        pytest.skip(f"{engine} not installed (make install)")
    tts = OfflineTTS([engine])
    voice = Voice(language="it")
    short = await tts.synthesize(SHORT, voice, tenant_id=7)
    long = await tts.synthesize(LONG, voice, tenant_id=7)
    assert short.provider == long.provider == f"offline:{engine}"
    assert long.chars == len(LONG)
    assert len(long.pcm) % 2 == 0
    assert not is_silent(long.pcm) and rms_dbfs(long.pcm) > -35
    # LONG has ~15x the characters of SHORT: the audio must scale with it, not stop
    # after the first chunk (pyttsx3's save_to_file failure mode, issue #149).
    ratio = long.duration_s / short.duration_s
    assert ratio > 8, f"{engine}: {long.duration_s:.1f}s vs {short.duration_s:.1f}s"
    assert long.duration_s > 60
    # The last third of the audio is speech, not padding.
    tail = long.pcm[-len(long.pcm) // 3 :]
    assert not is_silent(tail)


async def test_forced_engine_and_fallback_order() -> None:
    engines = installed_engines()
    if len(engines) < 1:
        pytest.skip("no offline engine installed")
    tts = OfflineTTS()
    speech = await tts.synthesize(SHORT, Voice(extra={"engine": engines[-1]}), None)
    assert speech.provider == f"offline:{engines[-1]}"
    default = await tts.synthesize(SHORT, Voice(), None)
    assert default.provider == f"offline:{engines[0]}"


async def test_bad_inputs_and_missing_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    if not installed_engines():
        pytest.skip("no offline engine installed")
    tts = OfflineTTS()
    with pytest.raises(TTSError, match="empty text"):
        await tts.synthesize("   ", Voice(), None)
    with pytest.raises(TTSError, match="unknown offline TTS engine"):
        OfflineTTS(["say"])
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(TTSError, match="libttspico-utils"):
        OfflineTTS()


async def test_a_failing_engine_falls_through_to_the_next(tmp_path, monkeypatch) -> None:
    """A broken pico2wave (exits 1) must not silence the agent: festival/espeak answer."""
    engines = installed_engines()
    if len(engines) < 2:
        pytest.skip("needs two offline engines")
    broken = tmp_path / engines[0]
    broken.write_text("#!/bin/sh\necho 'engine exploded' >&2\nexit 1\n")
    broken.chmod(0o755)
    tts = OfflineTTS()
    tts._paths[engines[0]] = str(broken)
    speech = await tts.synthesize(SHORT, Voice(), None)
    assert speech.provider == f"offline:{engines[1]}"
    tts._paths = {engines[0]: str(broken)}
    tts.engines = [engines[0]]
    with pytest.raises(TTSError, match="engine exploded"):
        await tts.synthesize(SHORT, Voice(), None)


def test_split_sentences() -> None:
    assert split_sentences("Ciao. Come sta? Bene!") == ["Ciao.", "Come sta?", "Bene!"]
    long = "parola " * 100
    chunks = split_sentences(long, max_chars=50)
    assert all(len(c) <= 50 for c in chunks)
    assert " ".join(chunks).split() == long.split()
    clauses = split_sentences("uno, due, tre, " * 20, max_chars=40)
    assert all(len(c) <= 40 for c in clauses)
    with pytest.raises(ValueError):
        split_sentences("x", max_chars=5)
