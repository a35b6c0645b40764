"""ElevenLabs via the official SDK against a LOCAL server implementing ElevenLabs'
documented TTS API (FakeElevenLabs in tests/agent/speech/conftest.py, which checks what it
receives), the fallback to the offline voice in the same turn, the phrase cache and
character counting."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from agent.audio import is_silent
from agent.tts.base import Speech, TTSError, Voice
from agent.tts.cache import CachedTTS
from agent.tts.chain import FallbackTTS
from agent.tts.elevenlabs import ElevenLabsSettings, ElevenLabsTTS
from agent.tts.factory import build_tts, voice_from_tenant
from agent.tts.offline import OfflineTTS
from agent.tts.usage import TTSUsage
from centralino.config import Config

TEXT = "Buongiorno, sono l'assistente dell'agenzia Rossi."
VOICE = Voice(provider="elevenlabs", voice_id="voice-it-1", stability=0.4, similarity=0.8)


@pytest.fixture
def server(elevenlabs_server: Any) -> Any:
    """The local ElevenLabs API server from conftest.py."""
    return elevenlabs_server


def eleven(server: Any, **overrides) -> ElevenLabsTTS:
    settings = ElevenLabsSettings(
        api_key=overrides.pop("api_key", server.api_key), base_url=server.url, **overrides
    )
    return ElevenLabsTTS(settings)


async def test_request_is_what_elevenlabs_documents(server: Any) -> None:
    tts = eleven(server, model_id="eleven_flash_v2_5")
    speech = await tts.synthesize(TEXT, VOICE, tenant_id=3)
    (req,) = server.requests
    assert req["path"] == "/v1/text-to-speech/voice-it-1/stream"
    assert req["api_key"] == server.api_key
    assert req["query"]["output_format"] == "pcm_16000"
    assert req["body"]["text"] == TEXT
    assert req["body"]["model_id"] == "eleven_flash_v2_5"
    assert req["body"]["language_code"] == "it"
    assert req["body"]["voice_settings"]["stability"] == pytest.approx(0.4)
    assert req["body"]["voice_settings"]["similarity_boost"] == pytest.approx(0.8)
    assert speech.provider == "elevenlabs" and speech.chars == len(TEXT)
    # pcm_16000 comes back as-is: 0.06 s per character from the fake server.
    assert speech.duration_s == pytest.approx(0.06 * len(TEXT), abs=0.01)
    assert not is_silent(speech.pcm)


async def test_multilingual_model_and_ulaw_output(server: Any) -> None:
    tts = eleven(server, model_id="eleven_multilingual_v2", output_format="ulaw_8000")
    speech = await tts.synthesize(TEXT, VOICE, tenant_id=3)
    req = server.requests[-1]
    assert req["body"]["model_id"] == "eleven_multilingual_v2"
    assert "language_code" not in req["body"]  # not supported by multilingual_v2
    assert req["query"]["output_format"] == "ulaw_8000"
    assert speech.duration_s == pytest.approx(0.06 * len(TEXT), abs=0.02)  # resampled to 16k


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("fault", ["unreachable", "401", "timeout", "500", "missing-key"])
async def test_faults_fall_back_to_offline_in_the_same_turn(server: Any, fault: str) -> None:
    if fault == "unreachable":
        tts = ElevenLabsTTS(
            ElevenLabsSettings(api_key="k", base_url=f"http://127.0.0.1:{free_port()}")
        )
    elif fault == "missing-key":
        tts = eleven(server, api_key="")
    else:
        server.mode = {"401": "401", "timeout": "slow", "500": "500"}[fault]
        tts = eleven(server, timeout_s=1.0)
    with pytest.raises(TTSError) as info:
        await tts.synthesize(TEXT, VOICE, 1)
    expected = {
        "unreachable": "unreachable",
        "401": "401",
        "timeout": "timed out",
        "500": "error 500",
        "missing-key": "CENTRALINO_ELEVENLABS__API_KEY",
    }[fault]
    assert expected in str(info.value)
    if fault in ("401", "500", "timeout"):
        assert len(server.requests) == 1  # no SDK retries: the caller must not wait

    usage = TTSUsage()
    chain = FallbackTTS([tts, OfflineTTS()], usage=usage)
    speech = await chain.synthesize(TEXT, VOICE, tenant_id=9)
    assert speech.provider.startswith("offline:")
    assert not is_silent(speech.pcm) and speech.duration_s > 1.5
    assert chain.failures == {"elevenlabs": 1}
    assert usage.get(speech.provider, 9).chars == len(TEXT)
    assert usage.get("elevenlabs", 9).chars == 0


async def test_offline_tenant_never_calls_elevenlabs(server: Any) -> None:
    chain = FallbackTTS([eleven(server), OfflineTTS()])
    speech = await chain.synthesize(TEXT, Voice(provider="offline"), 1)
    assert speech.provider.startswith("offline:")
    assert server.requests == []


async def test_every_provider_failing_raises(server: Any) -> None:
    server.mode = "500"
    chain = FallbackTTS([eleven(server)])
    with pytest.raises(TTSError, match=r"every TTS provider failed.*elevenlabs"):
        await chain.synthesize(TEXT, VOICE, 1)


async def test_cache_serves_fixed_phrases_without_calling_the_provider(
    server: Any, tmp_path: Path
) -> None:
    usage = TTSUsage()
    cache = CachedTTS(FallbackTTS([eleven(server), OfflineTTS()], usage=usage), tmp_path, usage)
    assert await cache.warm([TEXT, "In quale zona?"], VOICE, tenant_id=2) == 2
    assert len(server.requests) == 2
    hit = await cache.synthesize(TEXT, VOICE, tenant_id=2)
    assert hit.cached and hit.provider == "elevenlabs" and hit.chars == 0
    assert len(server.requests) == 2
    assert usage.get("elevenlabs", 2).chars == len(TEXT) + len("In quale zona?")
    assert usage.get("elevenlabs", 2).cached_hits == 1
    # A fresh process finds the files on disk.
    again = CachedTTS(FallbackTTS([eleven(server)]), tmp_path)
    assert (await again.synthesize(TEXT, VOICE, 2)).cached
    # Another voice (different stability) is a different entry.
    other = Voice(provider="elevenlabs", voice_id="voice-it-1", stability=0.9)
    assert not (await again.synthesize(TEXT, other, 2)).cached
    # Dynamic sentences are not stored.
    await cache.synthesize("Grazie Mario.", VOICE, 2)
    assert not (await cache.synthesize("Grazie Mario.", VOICE, 2)).cached


async def test_cache_does_not_store_fallback_audio_for_the_premium_voice(
    server: Any, tmp_path: Path
) -> None:
    server.mode = "401"
    cache = CachedTTS(FallbackTTS([eleven(server), OfflineTTS()]), tmp_path)
    await cache.warm([TEXT], VOICE, 1)
    server.mode = "ok"
    speech = await cache.synthesize(TEXT, VOICE, 1)
    assert speech.provider == "elevenlabs" and not speech.cached


async def test_corrupt_cache_entry_is_dropped(tmp_path: Path) -> None:
    cache = CachedTTS(OfflineTTS(), tmp_path)
    offline = Voice(provider="offline")
    await cache.warm(["Arrivederci."], offline, 1)
    (wav,) = tmp_path.rglob("*.wav")
    wav.write_bytes(b"garbage")
    speech = await cache.synthesize("Arrivederci.", offline, 1)
    assert not speech.cached and not is_silent(speech.pcm)


class Crashing:
    name = "buggy"

    async def synthesize(self, text: str, voice: Voice, tenant_id: int | None) -> Speech:
        raise KeyError("bug")


async def test_a_crashing_provider_does_not_silence_the_call() -> None:
    chain = FallbackTTS([Crashing(), OfflineTTS()])
    speech = await chain.synthesize(TEXT, Voice(provider="buggy"), 1)
    assert speech.provider.startswith("offline:")


def test_build_from_config_and_tenant_voice(tmp_path: Path) -> None:
    no_key = build_tts(Config({}, environ={}), cache_dir=tmp_path)
    assert [p.name for p in no_key.inner.providers] == ["offline"]  # type: ignore[attr-defined]
    cfg = Config({"elevenlabs": {"model_id": "eleven_multilingual_v2"}},
                 environ={"CENTRALINO_ELEVENLABS__API_KEY": "sk-x"})  # fmt: skip
    stack = build_tts(cfg, cache_dir=tmp_path)
    assert [p.name for p in stack.inner.providers] == ["elevenlabs", "offline"]  # type: ignore[attr-defined]
    voice = voice_from_tenant(
        {"language": "it", "voice": {"provider": "elevenlabs", "voice_id": "abc",
                                     "similarity_boost": 0.9, "model_id": "eleven_v3"}}
    )  # fmt: skip
    assert voice == Voice("elevenlabs", "abc", 0.5, 0.9, "it", {"model_id": "eleven_v3"})
    assert voice_from_tenant({}).provider == "offline"
    with pytest.raises(TTSError, match="pcm_16000"):
        ElevenLabsTTS(ElevenLabsSettings(api_key="k", output_format="mp3_44100_128"))
