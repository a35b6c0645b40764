"""The voice pipeline end to end inside the process: real Whisper STT, real offline
TTS, real WebRTC VAD; the call session and the dialogue are fakes of our own
interfaces (tests/agent/voice/conftest.py). Audio flows in real time (20 ms frames)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent.audio import rms_dbfs
from agent.audio.prompts import load_prompts, prompts_dir
from agent.conversation import CallContext
from agent.stt.hallucinations import normalize
from agent.stt.vad import VADSettings
from agent.voice.pipeline import VoiceConversation, VoiceSettings, vocabulary_prompt

pytestmark = pytest.mark.slow

TENANT = {
    "zones": ["Navigli", "Isola", "Città Studi"],
    "vocabulary": ["trilocale", "bilocale"],
    "voice": {"provider": "offline"},
    "questions": [{"key": "zone", "text": "In quale zona?"}],
}
CTX = CallContext("call-1", 5, "rossi", "+393331112233", "+390212345678", tenant=TENANT)
FAST = VoiceSettings(silence_timeout_s=1.5, ack_after_ms=3000)
VAD = VADSettings(end_silence_ms=500)


async def run_call(fakes: Any, whisper: Any, tts: Any, dialogue: Any, script, **kw: Any):
    out = fakes.AudioOut()
    caller = fakes.Caller()
    control = fakes.Control(**kw.pop("control", {}))
    conv = VoiceConversation(
        lambda ctx: dialogue, whisper, tts, settings=kw.pop("settings", FAST), vad=VAD
    )
    run = asyncio.create_task(conv.run(CTX, caller.frames(), out, control))
    acting = asyncio.create_task(script(out, caller, conv))
    try:
        # The call ends when the dialogue hangs up or the script's caller does.
        result = await asyncio.wait_for(asyncio.shield(run), 60)
        if acting.done() and acting.exception():
            raise acting.exception()  # type: ignore[misc]
    finally:
        acting.cancel()
        caller.hangup()
        out.close()
        if not run.done():
            run.cancel()
    import types

    return types.SimpleNamespace(result=result, out=out, caller=caller, control=control, conv=conv)


async def test_turns_are_heard_answered_and_recorded(fakes, whisper, offline_tts, say_pcm):
    dialogue = fakes.Dialogue(["Buongiorno, agenzia Rossi.", "Come posso aiutarla?"], turns=3)
    speech = await say_pcm("Buongiorno, vorrei comprare un trilocale in zona Navigli.")

    async def script(out, caller, conv):
        await out.wait_greeting()  # the greeting
        await asyncio.sleep(0.3)
        await caller.say(speech)
        await asyncio.sleep(1.0)
        # Then stay silent: the pipeline must send a "silence" utterance, then the
        # dialogue closes the call at its third turn.

    call = await run_call(fakes, whisper, offline_tts, dialogue, script)
    result = call.result
    out = call.out
    control = call.control
    kinds = [u.kind for u in dialogue.heard]
    assert kinds[0] == "speech"
    heard = normalize(dialogue.heard[0].text).split()
    assert "trilocale" in heard
    assert any(w.startswith("navigl") for w in heard)
    assert "silence" in kinds
    assert control.hung_up == "dialogue finished"
    assert result["outcome"] == "completed"
    assert result["voice"]["tts_providers"] == ["offline:pico2wave"]
    # The greeting and the replies were actually played to the caller.
    assert len(out.played) / 32000 > 3 and rms_dbfs(bytes(out.played)) > -40
    caller_turn = next(t for t in control.turns if t["speaker"] == "caller")
    assert caller_turn["stt_provider"] == "whisper:base"
    assert 0 < caller_turn["stt_confidence"] <= 1
    agent_turns = [t for t in control.turns if t["speaker"] == "agent"]
    answer = agent_turns[1]
    assert answer["text"] == "Ho capito. Mi dica pure altro."
    assert answer["tts_provider"] == "offline:pico2wave" and answer["tts_chars"] > 0
    assert answer["llm_provider"] == "script"
    assert 0 < answer["stt_ms"] <= answer["reply_ms"] <= answer["first_audio_ms"]
    assert agent_turns[0]["reply_ms"] is None  # the greeting follows no caller speech


async def test_barge_in_flushes_the_agent_and_listens(fakes, whisper, offline_tts):
    """The caller talks over a long greeting: the queued audio is dropped within
    barge_in_ms (+ VAD onset) of stream time and the caller's words reach the dialogue."""
    if not prompts_dir().exists():
        pytest.skip("Italian prompts missing")
    from agent.audio import read_wav

    prompt = {p.name: p.path for p in load_prompts()}["agent-alreadyon"]
    interruption, _ = read_wav(prompt)
    onset = next(
        i for i in range(0, len(interruption), 640) if rms_dbfs(interruption[i : i + 640]) > -40
    )
    dialogue = fakes.Dialogue(
        [
            "Buongiorno, ha chiamato l'agenzia immobiliare Rossi di Milano.",
            "Sono l'assistente virtuale e posso raccogliere la sua richiesta.",
            "Mi dica pure il suo nome e che cosa sta cercando.",
        ],
        turns=1,
    )
    state: dict[str, Any] = {}

    async def script(out, caller, conv):
        while not out.played:
            await asyncio.sleep(0.02)
        await asyncio.sleep(1.5)
        state["queued_before"] = len(out.queue)
        state["onset_frame"] = caller.sent_frames + onset // 640
        await caller.say(interruption, wait=False)
        while not out.flushes:
            await asyncio.sleep(0.005)
        state["flush_frame"] = caller.sent_frames
        await asyncio.sleep(3)

    call = await run_call(fakes, whisper, offline_tts, dialogue, script)
    out = call.out
    control = call.control
    conv = call.conv
    assert state["queued_before"] > 32000 * 2  # seconds of greeting were still queued
    assert len(conv.barge_ins) >= 1
    stream_ms = (state["flush_frame"] - state["onset_frame"]) * 20
    # 240 ms of voiced speech + the VAD's start window; well inside the 300 ms budget
    # for the agent to go quiet once the media leg drops the queue.
    assert stream_ms <= 400, stream_ms
    kinds = [kind for kind, _ in control.events]
    assert kinds.count("barge_in") == 1
    assert dict(control.events)["barge_in"]["agent_turn"] == 1  # during the greeting
    # Nothing more of the greeting was played after the flush (within one frame).
    assert not out.queue or out.flushes[-1] < out.plays[-1][0]
    words = set(normalize(dialogue.heard[0].text).split())
    assert {"digitare", "numero"} <= words
    assert control.hung_up == "dialogue finished"


async def test_dtmf_zero_transfers_and_a_failed_transfer_goes_back_to_the_dialogue(
    fakes, whisper, offline_tts
):
    dialogue = fakes.Dialogue(["Buongiorno."], turns=5)

    async def script(out, caller, conv):
        await out.wait_greeting()
        await conv.send_dtmf("0")
        await asyncio.sleep(2.5)
        caller.hangup()

    call = await run_call(fakes, whisper, offline_tts, dialogue, script)
    control = call.control
    assert dialogue.heard[0].kind == "dtmf" and dialogue.heard[0].text == "0"
    assert control.transfers == ["+390200000"]
    assert ("transfer", {"number": "+390200000", "ok": False}) in control.events
    assert dialogue.transfer_failures == 1
    assert "messaggio" in control.turns[-1]["text"]


async def test_hangup_mid_sentence_still_reaches_the_dialogue(fakes, whisper, offline_tts, say_pcm):
    dialogue = fakes.Dialogue(["Buongiorno."], turns=5)
    speech = await say_pcm("Mi chiamo Mario Rossi e cerco un bilocale in affitto a Isola.")

    async def script(out, caller, conv):
        await out.wait_greeting()
        await caller.say(speech[: len(speech) * 2 // 3 // 2 * 2], wait=True)
        caller.hangup()  # no trailing silence: the endpointer never saw the end

    call = await run_call(fakes, whisper, offline_tts, dialogue, script)
    result = call.result
    control = call.control
    assert dialogue.heard, "the last words were lost"
    assert {"mario", "bilocale"} <= set(normalize(dialogue.heard[-1].text).split())
    assert result["heard"] == [u.text for u in dialogue.heard]
    caller_turns = [t for t in control.turns if t["speaker"] == "caller"]
    assert caller_turns[-1]["text"] == dialogue.heard[-1].text


async def test_slow_reply_gets_an_acknowledgement(fakes, whisper, offline_tts, say_pcm):
    dialogue = fakes.Dialogue(["Buongiorno."], turns=5, delay_s=2.0)
    speech = await say_pcm("Vorrei vendere il mio appartamento.")
    acks: list[float] = []

    async def script(out, caller, conv):
        await out.wait_greeting()
        n = len(out.plays)
        await caller.say(speech)
        while len(out.plays) == n:
            await asyncio.sleep(0.01)
        acks.append(out.plays[n][0])
        await asyncio.sleep(2.5)
        caller.hangup()

    settings = VoiceSettings(silence_timeout_s=5, ack_after_ms=400)
    call = await run_call(fakes, whisper, offline_tts, dialogue, script, settings=settings)
    control = call.control
    # The first audio after the caller spoke is the short acknowledgement ("Un attimo."),
    # played before the 2 s dialogue turn finished; then the real reply.
    assert acks and dialogue.returned and acks[0] < dialogue.returned[0] - 1.0
    # The caller hangs up while the reply plays: it is recorded, cut by the hang-up.
    reply = control.turns[-1]
    assert reply["speaker"] == "agent"
    assert reply["data"].get("reply_text", reply["text"]) == "Ho capito. Mi dica pure altro."


async def test_noise_is_not_a_turn(fakes, whisper, offline_tts):
    import numpy as np

    rng = np.random.default_rng(11)
    # 0.6 s of loud broadband noise: VAD may fire, Whisper must not invent words.
    noise = rng.normal(0, 6000, 16000 * 6 // 10).astype("<i2").tobytes()
    dialogue = fakes.Dialogue(["Buongiorno."], turns=5)

    async def script(out, caller, conv):
        await out.wait_greeting()
        await caller.say(noise)
        await asyncio.sleep(2.2)
        caller.hangup()

    await run_call(fakes, whisper, offline_tts, dialogue, script)
    assert all(u.kind == "silence" for u in dialogue.heard), dialogue.heard


def test_vocabulary_prompt() -> None:
    assert vocabulary_prompt(TENANT) == "Navigli, Isola, Città Studi, trilocale, bilocale."
    assert vocabulary_prompt({}) == ""
    long = {"vocabulary": [f"parola{i}" for i in range(200)]}
    assert len(vocabulary_prompt(long)) <= 401


async def test_real_dialogue_collects_a_lead_by_voice(fakes, whisper, offline_tts, say_pcm):
    """The production wiring (make_conversation_factory + the dialogue engine): a caller
    speaking synthesized Italian gives name, request, zone and budget across turns."""
    from agent.voice.factory import make_conversation_factory

    tenant = {
        "name": "Agenzia Rossi",
        "slug": "rossi",
        "zones": ["Navigli", "Isola", "Città Studi"],
        "vocabulary": ["trilocale", "bilocale"],
        "voice": {"provider": "offline"},
    }
    ctx = CallContext("call-2", 5, "rossi", "+393331112233", "+390212345678", tenant=tenant)
    answers = [
        "Mi chiamo Mario Bianchi.",
        "Vorrei comprare un trilocale nella zona di Città Studi.",
        "Il budget è di trecentomila euro.",
    ]
    clips = [await say_pcm(a) for a in answers]
    out = fakes.AudioOut()
    caller = fakes.Caller()
    control = fakes.Control()
    factory = make_conversation_factory(
        whisper, offline_tts, settings=VoiceSettings(silence_timeout_s=2.0), vad=VAD
    )
    conversation = factory(ctx)

    async def script() -> None:
        await out.wait_greeting()
        for clip in clips:
            await asyncio.sleep(0.3)
            await out.wait_played()
            await caller.say(clip)
            # Wait for the agent to start answering before the next answer.
            n = len(out.plays)
            while len(out.plays) == n:
                await asyncio.sleep(0.02)
        await asyncio.sleep(1.0)
        await out.wait_played()
        await asyncio.sleep(0.5)
        caller.hangup()

    acting = asyncio.create_task(script())
    try:
        result = await asyncio.wait_for(conversation.run(ctx, caller.frames(), out, control), 90)
    finally:
        acting.cancel()
        caller.hangup()
        out.close()
    lead = result["lead"]
    assert "bianchi" in lead["name"].lower()
    assert lead["request_type"] == "buy"
    assert lead["zone"] == "Città Studi"
    assert lead["budget_max"] == 300000 or lead["budget_min"] == 300000
    assert lead["phone"].endswith("3331112233")
    spoken = [t for t in control.turns if t["speaker"] == "caller" and t.get("stt_provider")]
    assert len(spoken) == 3


async def test_speculative_stt_is_used_and_discarded_when_the_caller_goes_on(
    fakes, whisper, offline_tts, say_pcm
):
    """A 350 ms pause mid-answer starts a speculative transcription (after 240 ms of
    silence); the caller then goes on, so the final transcript must hold both parts."""
    from agent.audio import silence

    first = await say_pcm("Mi chiamo Mario Bianchi.")
    # Cut the engine's own trailing silence so the pause is exactly 350 ms.
    while first and rms_dbfs(first[-640:]) < -50:
        first = first[:-640]
    second = await say_pcm("Cerco un bilocale in affitto.")
    dialogue = fakes.Dialogue(["Buongiorno."], turns=2)

    async def script(out, caller, conv):
        await out.wait_greeting()
        await caller.say(first + silence(350) + second)
        await asyncio.sleep(1.5)
        await out.wait_played()
        await caller.say(await say_pcm("Grazie mille."))

    call = await run_call(fakes, whisper, offline_tts, dialogue, script)
    words = set(normalize(dialogue.heard[0].text).split())
    assert {"mario", "bilocale", "affitto"} <= words, dialogue.heard[0].text
    assert call.conv.early_stt_used >= 1


async def test_a_failing_turn_still_returns_the_dialogue_result(
    fakes, whisper, offline_tts, say_pcm
):
    class Broken(fakes.Dialogue):  # type: ignore[misc, name-defined]
        async def handle(self, utterance):
            self.heard.append(utterance)
            raise RuntimeError("engine bug")

    dialogue = Broken(["Buongiorno."])
    speech = await say_pcm("Vorrei vendere casa.")

    async def script(out, caller, conv):
        await out.wait_greeting()
        await caller.say(speech)
        await asyncio.sleep(10)

    call = await run_call(fakes, whisper, offline_tts, dialogue, script)
    assert call.result["outcome"] == "completed"
    assert call.result["heard"] == [dialogue.heard[0].text]
    assert [k for k, _ in call.control.events] == ["pipeline_error"]


# -- barge-in: the cut agent turn is recorded as interrupted ----------------------------

LONG_GREETING = [
    "Buongiorno, ha chiamato l'agenzia immobiliare Rossi di Milano.",
    "Sono l'assistente virtuale e posso raccogliere la sua richiesta.",
    "Mi dica pure il suo nome e che cosa sta cercando.",
]


def sentences_started(out: Any, played_bytes: int, first_play: int = 0) -> int:
    """How many queued sentences (out.plays from ``first_play``) had started playing."""
    offset, started = 0, 0
    for _, length in out.plays[first_play:]:
        if offset >= played_bytes:
            break
        started += 1
        offset += length
    return started


async def test_a_greeting_cut_by_barge_in_is_recorded_as_interrupted(
    fakes, whisper, offline_tts, say_pcm
):
    """The greeting is queued whole before the caller speaks; when the caller talks over
    it the stored turn must say so, with what was heard of it, not the full text."""
    dialogue = fakes.Dialogue(LONG_GREETING, turns=1)
    interruption = await say_pcm("Buongiorno, mi chiamo Mario Rossi.")
    state: dict[str, Any] = {}

    async def script(out, caller, conv):
        while not out.played:
            await asyncio.sleep(0.02)
        await asyncio.sleep(1.5)
        await caller.say(interruption, wait=False)
        while not out.flushes:
            await asyncio.sleep(0.005)
        state["played"] = len(out.played)  # what the media leg really played
        await asyncio.sleep(3)

    call = await run_call(fakes, whisper, offline_tts, dialogue, script)
    out, turns = call.out, call.control.turns
    assert len(call.conv.barge_ins) == 1
    assert [t["speaker"] for t in turns] == ["agent", "caller", "agent"], turns
    greeting, goodbye = turns[0], turns[2]
    assert greeting["data"]["interrupted"] is True, greeting
    assert greeting["data"]["cut_by"] == "barge_in"
    assert greeting["data"]["reply_text"] == " ".join(LONG_GREETING)
    # Only the sentences whose audio had started are in the text (the first one here).
    heard = sentences_started(out, state["played"])
    assert 1 <= heard < len(LONG_GREETING)
    assert greeting["text"] == " ".join(LONG_GREETING[:heard])
    # The caller spoke 1.5 s (script time) after the greeting started, and a barge-in
    # needs 240 ms more: at least that much was played, and less than all of it.
    audio_ms = greeting["data"]["audio_ms"]
    assert audio_ms == round(sum(n for _, n in out.plays[:3]) / 32)
    assert 1500 <= greeting["data"]["played_ms"] < audio_ms, greeting["data"]
    # Stored at the time it started, before the caller's turn.
    assert greeting["at"].tzinfo is not None and greeting["at"] < goodbye["at"]
    assert goodbye["text"] == "Grazie, arrivederci."
    assert goodbye["data"]["interrupted"] is False and "played_ms" not in goodbye["data"]


async def test_a_reply_cut_after_it_was_queued_is_recorded_as_interrupted(
    fakes, whisper, offline_tts, say_pcm
):
    """Not only the greeting: a reply whose sentences were all queued before the caller
    barged in (the usual case: synthesis is faster than playback) is interrupted too."""
    dialogue = fakes.Dialogue(["Buongiorno."], turns=2, reply=LONG_GREETING)
    answer = await say_pcm("Vorrei vendere il mio appartamento.")
    interruption = await say_pcm("Mi scusi, ho già capito.")
    state: dict[str, Any] = {}

    async def script(out, caller, conv):
        await out.wait_greeting()
        n = len(out.plays)
        await caller.say(answer)
        while len(out.plays) < n + len(LONG_GREETING):  # the whole reply is queued
            await asyncio.sleep(0.01)
        state["first_play"], state["before"] = n, len(out.played)
        await asyncio.sleep(1.0)
        await caller.say(interruption, wait=False)
        while not out.flushes:
            await asyncio.sleep(0.005)
        state["played"] = len(out.played) - state["before"]
        await asyncio.sleep(3)

    call = await run_call(fakes, whisper, offline_tts, dialogue, script)
    turns = call.control.turns
    assert [t["speaker"] for t in turns] == ["agent", "caller", "agent", "caller", "agent"]
    greeting, reply, goodbye = turns[0], turns[2], turns[4]
    assert greeting["data"]["interrupted"] is False and greeting["text"] == "Buongiorno."
    assert reply["data"]["interrupted"] is True, reply
    assert reply["data"]["reply_text"] == " ".join(LONG_GREETING)
    heard = sentences_started(call.out, state["played"], state["first_play"])
    assert reply["text"] == " ".join(LONG_GREETING[:heard])
    assert 1000 <= reply["data"]["played_ms"] < reply["data"]["audio_ms"], reply["data"]
    assert reply["stt_ms"] is not None and reply["first_audio_ms"] is not None
    assert goodbye["data"]["interrupted"] is False


async def test_an_agent_turn_cut_by_the_hang_up_is_recorded_as_interrupted(
    fakes, whisper, offline_tts
):
    """The caller hangs up while the agent speaks: the turn was cut by the hang-up, with
    what was played of it, as for a barge-in (it was stored as interrupted: false)."""
    dialogue = fakes.Dialogue(LONG_GREETING, turns=1)
    state: dict[str, Any] = {}

    async def script(out, caller, conv):
        while not out.played:
            await asyncio.sleep(0.02)
        await asyncio.sleep(1.5)
        state["played"] = len(out.played)
        caller.hangup()

    call = await run_call(fakes, whisper, offline_tts, dialogue, script)
    out, turns = call.out, call.control.turns
    assert not call.conv.barge_ins and not out.flushes
    assert [t["speaker"] for t in turns] == ["agent"], turns
    greeting = turns[0]
    data = greeting["data"]
    assert data["interrupted"] is True and data["cut_by"] == "hangup", data
    assert data["reply_text"] == " ".join(LONG_GREETING)
    heard = sentences_started(out, state["played"])
    assert 1 <= heard < len(LONG_GREETING)
    assert greeting["text"] == " ".join(LONG_GREETING[:heard])
    assert data["audio_ms"] == round(sum(n for _, n in out.plays[:3]) / 32)
    assert 1500 <= data["played_ms"] < data["audio_ms"], data


async def test_a_hang_up_after_the_agent_finished_is_no_interruption(fakes, whisper, offline_tts):
    dialogue = fakes.Dialogue(["Buongiorno."], turns=1)

    async def script(out, caller, conv):
        await out.wait_greeting()
        await asyncio.sleep(0.3)
        caller.hangup()

    call = await run_call(fakes, whisper, offline_tts, dialogue, script)
    (greeting,) = call.control.turns
    assert greeting["text"] == "Buongiorno."
    assert greeting["data"]["interrupted"] is False and "cut_by" not in greeting["data"]


# -- speculative STT: lost bets must not delay the real transcription ------------------


async def test_no_speculation_on_a_short_fragment_before_a_pause(
    fakes, whisper, offline_tts, say_pcm
):
    """ "Sì," then a pause, then the rest: the pause after a short fragment starts no
    speculative transcription (a lost bet on a fragment is the one that falls back to
    Whisper's 30 s window); the final pause does, and that transcript is used."""
    from agent.audio import silence

    def trim(pcm: bytes) -> bytes:
        while pcm and rms_dbfs(pcm[-640:]) < -50:
            pcm = pcm[:-640]
        while pcm and rms_dbfs(pcm[:640]) < -50:
            pcm = pcm[640:]
        return pcm

    short = trim(await say_pcm("Sì,"))
    rest = trim(await say_pcm("mi chiamo Mario Bianchi e cerco un bilocale."))
    dialogue = fakes.Dialogue(["Buongiorno."], turns=1)
    stt = fakes.CountingSTT(whisper)

    async def script(out, caller, conv):
        await out.wait_greeting()
        await caller.say(short + silence(350) + rest)
        await asyncio.sleep(2)

    call = await run_call(fakes, stt, offline_tts, dialogue, script)
    words = set(normalize(dialogue.heard[0].text).split())
    assert {"mario", "bilocale"} <= words, dialogue.heard[0].text
    # One transcription reached Whisper: the speculative one of the whole answer.
    assert len(stt.calls) == 1, stt.calls
    assert call.conv.early_stt_started == 1 and call.conv.early_stt_used == 1


def test_speculation_only_on_whispers_fast_path() -> None:
    from agent.stt.settings import STTSettings
    from agent.stt.whisper import WhisperSTT
    from agent.voice.pipeline import fast_path_applies

    # Constructing WhisperSTT loads nothing; only its settings are consulted.
    assert fast_path_applies(WhisperSTT(STTSettings()), 2.0)
    assert not fast_path_applies(WhisperSTT(STTSettings(fast_path=False)), 2.0)
    # Past 30 s - margin Whisper itself uses the 30 s window.
    assert not fast_path_applies(WhisperSTT(STTSettings(window_margin_s=3.0)), 27.5)
    assert fast_path_applies(WhisperSTT(STTSettings(window_margin_s=1.0)), 27.5)
