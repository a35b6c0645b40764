"""VoiceConversation: pbx's :class:`~agent.conversation.Conversation` for the agent.

Per call it runs two tasks on the event loop:

* the *listener* feeds every 20 ms caller frame to the VAD endpointer; when the
  caller talks over the agent for ``barge_in_ms`` it flushes the agent's queued
  audio (barge-in); finished utterances go to a queue;
* the *turn loop* greets, then for every utterance runs STT (worker thread), asks
  the dialogue for a reply, and speaks it sentence by sentence: sentence 1 is
  synthesized and queued, sentence 2 is synthesized while sentence 1 plays. If the
  reply is late a short acknowledgement is played first; after a silence timeout the
  dialogue gets an ``Utterance(kind="silence")``.

Timings of each turn are measured from the end of the caller's speech (the last
voiced frame) and stored with :meth:`CallControl.record_turn`. An agent turn is
recorded once it is known how much of it the caller heard: when its audio has been
played, when a barge-in or the caller's hang-up cut it, or at the latest when the next
turn is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent.conversation import AudioOut, CallContext, CallControl
from agent.dialogue.base import Action, Dialogue, Reply, Utterance
from agent.stt.base import STTError, STTProvider, Transcript
from agent.stt.vad import FRAME_MS, Endpointer, Segment, VADSettings
from agent.tts.base import TTSError, TTSProvider, Voice
from agent.tts.cache import CachedTTS
from agent.tts.factory import voice_from_tenant
from agent.tts.text import split_sentences
from agent.voice.stt_queue import TranscriptionQueue, transcription_queue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VoiceSettings:
    """``[voice]`` in the config file (turn-taking)."""

    barge_in: bool = True
    barge_in_ms: int = 240  # caller speech over the agent that interrupts it
    silence_timeout_s: float = 7.0  # after the agent finished speaking
    # Play a short acknowledgement if the reply is not ready this long after the
    # caller stopped speaking (it covers slow STT/LLM turns; never dead air).
    ack_after_ms: int = 1200
    ack_phrases: tuple[str, ...] = ("Un attimo.", "Certo, un momento.")
    max_call_s: float = 1200.0  # a runaway call is closed politely
    max_sentence_chars: int = 220
    # Speculative STT: transcribe once the caller has been silent this long, while the
    # endpointer still waits for end_silence_ms. If the caller goes on speaking the
    # result is discarded; otherwise the transcript is ready when the turn ends,
    # hiding most of the STT time behind the endpointing wait. 0 disables it.
    early_stt_ms: int = 240
    # ...but not on a fragment with less speech than this. A speculative job cannot be
    # stopped once Whisper runs it, and short fragments are the ones that fail the fast
    # path's checks and fall back to the 30 s window: measured over G.711, fragments
    # with <= 300 ms of speech fell back 4 times in 8 (0.56-2.35 s of worker time, in
    # which the real transcription waits), from 440 ms up 0 in 39 (115-190 ms).
    early_stt_min_speech_ms: int = 600
    closing_phrase: str = "La ringrazio, la richiameremo al più presto. Arrivederci."

    def __post_init__(self) -> None:
        # A bad ``[voice]`` value must stop the controller at start-up, naming the key
        # (config.section reports it as "[voice]: ..."), not misbehave in a call.
        for name in ("barge_in_ms", "ack_after_ms", "early_stt_ms", "early_stt_min_speech_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        for name in ("silence_timeout_s", "max_call_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be more than 0 seconds, got {getattr(self, name)}")
        if self.max_sentence_chars < 20:
            raise ValueError(
                f"max_sentence_chars must be at least 20, got {self.max_sentence_chars}"
            )
        if any(not p.strip() for p in self.ack_phrases):
            raise ValueError(
                f"ack_phrases must not contain empty phrases, got {self.ack_phrases!r}"
            )
        if not self.closing_phrase.strip():
            raise ValueError("closing_phrase must not be empty")


@dataclass
class _Heard:
    segment: Segment
    speech_end: float  # monotonic time of the last voiced frame
    during_agent: bool
    early: asyncio.Task[Transcript] | None = None  # speculative STT of the same speech


@dataclass
class _AgentTurn:
    """An agent turn queued to the caller, recorded once we know how much was heard."""

    reply: Reply
    fields: dict[str, Any]  # record_turn fields known when the reply was queued
    at: datetime | None = None  # wall clock of its first audio (the row's time)
    # (sentence, estimated playout start on the monotonic clock, duration in s)
    sentences: list[tuple[str, float, float]] = field(default_factory=list)
    complete: bool = False  # every sentence has been queued (or skipped)
    cut_at: float | None = None  # monotonic time of the barge-in or hang-up that stopped it
    cut_by: str = ""  # "barge_in" | "hangup"


DialogueFactory = Callable[[CallContext], Dialogue]


def vocabulary_prompt(tenant: dict[str, Any], limit: int = 400) -> str:
    """Whisper initial prompt from the tenant's zones and vocabulary (hot words)."""
    words: list[str] = []
    for key in ("zones", "premium_zones", "vocabulary"):
        for w in tenant.get(key) or []:
            w = str(w).strip()
            if w and w not in words:
                words.append(w)
    if not words:
        return ""
    text = ", ".join(words)
    return (text[:limit].rsplit(",", 1)[0] if len(text) > limit else text) + "."


class VoiceConversation:
    """One call. Build it per call with the process-wide STT and TTS (shared)."""

    def __init__(
        self,
        dialogue_factory: DialogueFactory,
        stt: STTProvider,
        tts: TTSProvider,
        settings: VoiceSettings | None = None,
        vad: VADSettings | None = None,
        stt_queue: TranscriptionQueue | None = None,
    ) -> None:
        self.dialogue_factory = dialogue_factory
        self.stt = stt
        # Shared by every call on this STT: final transcriptions before speculative ones.
        self.stt_queue = stt_queue or transcription_queue(stt)
        self.tts = tts
        self.settings = settings or VoiceSettings()
        self.vad_settings = vad or VADSettings()
        self.endpointer = Endpointer(self.vad_settings)
        self._events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._agent_speaking = False
        self._speech_gen = 0  # bumped on barge-in: stale sentences are not queued
        self.barge_ins: list[float] = []  # monotonic times of barge-ins
        self.turns = 0
        self.tts_chars = 0
        self.tts_providers: set[str] = set()
        self._stt_done: float | None = None
        self._control: CallControl | None = None
        self._prompt = ""
        self._early: asyncio.Task[Transcript] | None = None
        self.early_stt_used = 0
        self.early_stt_started = 0
        self._turn: _AgentTurn | None = None  # the agent turn not yet recorded
        self._playout_end = 0.0  # estimated monotonic time the queued audio ends

    # -- inputs from the call session -----------------------------------------------
    async def send_dtmf(self, digit: str) -> None:
        """The session forwards a DTMF key (ChannelDtmfReceived) here."""
        await self._events.put(("dtmf", digit))

    async def _listen(self, audio_in: AsyncIterator[bytes], out: AudioOut) -> None:
        ep = self.endpointer
        barged = False
        try:
            async for frame in audio_in:
                seg = ep.push(frame)
                speaking = self._agent_speaking or out.speaking
                if not ep.in_speech:
                    barged = False
                elif (
                    self.settings.barge_in
                    and speaking
                    and not barged
                    and ep.speech_ms >= self.settings.barge_in_ms
                ):
                    barged = True
                    await self._barge_in(out)
                early = self._speculate(ep)
                if early is not None and (seg is None or seg.reason != "silence"):
                    early.cancel()  # a blip below min_speech_ms, or a cut monologue
                if seg is not None:
                    # The end is detected end_silence_ms after the last voiced frame.
                    trailing = self.vad_settings.end_silence_ms if seg.reason == "silence" else 0
                    end = time.monotonic() - trailing / 1000
                    heard = _Heard(seg, end, speaking, early if seg.reason == "silence" else None)
                    await self._events.put(("speech", heard))
        except Exception as exc:  # the media leg broke: same as a hang-up
            log.warning("audio input failed: %r", exc)
        self._hung_up(out)
        last = ep.flush()
        if last is not None:
            await self._events.put(("speech", _Heard(last, time.monotonic(), False)))
        await self._events.put(("hangup", None))

    def _speculate(self, ep: Endpointer) -> asyncio.Task[Transcript] | None:
        """Start/discard the speculative transcription; return it when the turn ends."""
        early_ms = self.settings.early_stt_ms
        if not early_ms:
            return None
        if not ep.in_speech:
            # The utterance just ended (or never started): hand over what we have.
            task, self._early = self._early, None
            return task
        if ep.silence_ms == 0 and self._early is not None:
            # The caller went on: that transcript is stale. If it still waits in the
            # queue it is dropped; if Whisper already runs it, it finishes unheeded.
            self._early.cancel()
            self._early = None
        elif ep.silence_ms >= early_ms and self._early is None and self._worth_speculating(ep):
            self.early_stt_started += 1
            self._early = asyncio.create_task(
                self.stt_queue.transcribe(ep.current_pcm(), self._prompt, speculative=True)
            )
        return None

    def _worth_speculating(self, ep: Endpointer) -> bool:
        """Only bets that are cheap when lost: enough speech, and Whisper's fast path."""
        if ep.speech_ms < self.settings.early_stt_min_speech_ms:
            return False
        return fast_path_applies(self.stt, ep.utterance_ms / 1000)

    async def _barge_in(self, out: AudioOut) -> None:
        now = time.monotonic()
        turn = self._turn
        # Decided before the flush: once the queue is dropped the turn loop sees the
        # audio as "played" and may record the turn. A turn that was still playing, or
        # still being queued, has been cut; one already played to the end has not.
        if turn is not None and turn.cut_at is None and (out.speaking or not turn.complete):
            turn.cut_at, turn.cut_by = now, "barge_in"
        self._speech_gen += 1
        self._agent_speaking = False
        self._playout_end = now
        self.barge_ins.append(now)
        log.info("barge-in: caller spoke over the agent, flushing")
        await out.flush()
        if self._control is not None:
            await self._control.event(
                "barge_in", agent_turn=self.turns, speech_ms=self.endpointer.speech_ms
            )
        if turn is not None and turn.complete:
            await self._record_agent_turn(turn)  # else _say records it when it stops

    def _hung_up(self, out: AudioOut) -> None:
        """The caller's audio ended: an agent turn still playing, or still being queued,
        was cut by the hang-up (recorded as interrupted, like a barge-in)."""
        now = time.monotonic()
        turn = self._turn
        # The media leg may already have dropped its queue on close, so our own playout
        # estimate counts too (it never ends before the real playout does).
        playing = out.speaking or now < self._playout_end
        if turn is not None and turn.cut_at is None and (playing or not turn.complete):
            turn.cut_at, turn.cut_by = now, "hangup"
        self._speech_gen += 1  # a reply being spoken stops: nobody is on the line

    async def _play(self, out: AudioOut, pcm: bytes) -> float:
        """Queue audio; return its estimated playout start (audio plays in real time)."""
        now = time.monotonic()
        start = max(now, self._playout_end) if out.speaking else now
        self._playout_end = start + len(pcm) / 32000
        self._agent_speaking = True
        await out.play(pcm)
        return start

    async def _record_agent_turn(self, only: _AgentTurn | None = None) -> None:
        """Record the pending agent turn (if it is ``only``, when given): interrupted or
        not, and what the caller heard of it. Each turn is recorded once."""
        turn = self._turn
        if turn is None or self._control is None or (only is not None and turn is not only):
            return
        self._turn = None
        data = dict(turn.fields.pop("data", None) or {"interrupted": False})
        audio_s = sum(duration for _, _, duration in turn.sentences)
        data["audio_ms"] = round(audio_s * 1000)
        text = turn.reply.text
        if turn.cut_at is not None:
            cut = turn.cut_at
            # Sentences whose audio had started: the caller heard at least part of them.
            text = " ".join(s for s, start, _ in turn.sentences if start < cut)
            played = sum(max(0.0, min(d, cut - start)) for _, start, d in turn.sentences)
            data["interrupted"] = True
            data["cut_by"] = turn.cut_by
            data["played_ms"] = round(played * 1000)
            data["reply_text"] = turn.reply.text
        fields: dict[str, Any] = dict(turn.fields, data=data)
        if turn.at is not None:
            fields["at"] = turn.at  # when it started, not when it was recorded
        await self._control.record_turn("agent", text, **fields)

    # -- the call ------------------------------------------------------------------
    async def run(
        self,
        ctx: CallContext,
        audio_in: AsyncIterator[bytes],
        audio_out: AudioOut,
        control: CallControl,
    ) -> dict[str, Any]:
        self._control = control
        dialogue = self.dialogue_factory(ctx)
        voice = voice_from_tenant(ctx.tenant)
        prompt = self._prompt = vocabulary_prompt(ctx.tenant)
        started = time.monotonic()
        listener = asyncio.create_task(self._listen(audio_in, audio_out), name="voice-listen")
        warm: asyncio.Task[Any] | None = None
        try:
            greeting = await dialogue.start()
            if isinstance(self.tts, CachedTTS):
                self.tts.mark_fixed(greeting.sentences)
            await self._say(greeting, ctx, voice, audio_out, control, speech_end=None)
            if isinstance(self.tts, CachedTTS):
                fixed = [str(q.get("text", "")) for q in ctx.tenant.get("questions") or []]
                fixed += list(self.settings.ack_phrases)
                warm = asyncio.create_task(self.tts.warm(fixed, voice, ctx.tenant_id))
            reply = greeting
            while True:
                if reply.action == Action.HANGUP:
                    await audio_out.wait_played()
                    await self._record_agent_turn()
                    await control.hangup("dialogue finished")
                    break
                if reply.action == Action.TRANSFER:
                    await audio_out.wait_played()
                    await self._record_agent_turn()
                    ok = await control.transfer(reply.transfer_to)
                    await control.event("transfer", number=reply.transfer_to, ok=ok)
                    if ok:
                        break
                    failed = getattr(dialogue, "transfer_failed", None)
                    if failed is None:
                        break
                    reply = await failed()
                    await self._say(reply, ctx, voice, audio_out, control, speech_end=None)
                    continue
                if time.monotonic() - started > self.settings.max_call_s:
                    await control.event("max_call_duration", seconds=self.settings.max_call_s)
                    reply = Reply([self.settings.closing_phrase], Action.HANGUP)
                    await self._say(reply, ctx, voice, audio_out, control, speech_end=None)
                    continue
                kind, payload = await self._next_input(audio_out)
                if kind == "hangup":
                    break
                utterance, speech_end, heard = await self._understand(kind, payload, prompt, ctx)
                if utterance is None:
                    continue  # noise: nothing to answer
                stt_ms = _ms(speech_end, self._stt_done)
                await self._record_agent_turn()  # the turns stay in the order they happened
                if heard is not None:
                    await control.record_turn(
                        "caller",
                        utterance.text,
                        stt_confidence=heard.confidence,
                        stt_provider=heard.provider,
                        stt_ms=stt_ms,
                        data={"audio_s": round(heard.audio_s, 2), "stt_path": heard.path},
                    )
                else:
                    await control.record_turn(
                        "caller", utterance.text, data={"kind": utterance.kind}
                    )
                reply = await self._reply(dialogue, utterance, ctx, voice, audio_out, speech_end)
                await self._say(
                    reply, ctx, voice, audio_out, control, speech_end=speech_end, stt_ms=stt_ms
                )
        except Exception as exc:
            # A bug in a turn must not lose what the caller already said: the dialogue's
            # result (the lead so far) is still returned and stored by the session.
            log.exception("call %s: voice pipeline failed", ctx.call_id)
            with contextlib.suppress(Exception):
                await control.event("pipeline_error", error=repr(exc)[:300])
        finally:
            if warm is not None and not warm.done():
                warm.cancel()
            if self._early is not None:
                self._early.cancel()  # the caller hung up in a pause: drop the bet
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
            with contextlib.suppress(Exception):
                # Still pending: the caller hung up while it played (cut by _hung_up),
                # or the call ended some other way (a failed turn, a cancellation).
                await self._record_agent_turn()
        # The caller hung up mid-sentence: what they said still reaches the dialogue.
        while not self._events.empty():
            kind, payload = self._events.get_nowait()
            if kind == "speech":
                utterance, _, _ = await self._understand(kind, payload, prompt, ctx)
                if utterance is not None:
                    await control.record_turn("caller", utterance.text, data={"after_hangup": True})
                    with contextlib.suppress(Exception):
                        await dialogue.handle(utterance)
        result = dict(dialogue.result())
        result["voice"] = {
            "turns": self.turns,
            "barge_ins": len(self.barge_ins),
            "tts_chars": self.tts_chars,
            "tts_providers": sorted(self.tts_providers),
        }
        return result

    async def _next_input(self, out: AudioOut) -> tuple[str, Any]:
        """Next utterance, DTMF or hang-up; a silence after the agent finished speaking."""
        # The silence timer starts once the agent's audio has been played.
        played = asyncio.create_task(out.wait_played())
        event = asyncio.create_task(self._events.get())
        try:
            done, _ = await asyncio.wait({played, event}, return_when=asyncio.FIRST_COMPLETED)
            if event in done:
                return event.result()
            self._agent_speaking = False
            await self._record_agent_turn()  # played to the end: not interrupted
            while True:
                try:
                    return await asyncio.wait_for(
                        asyncio.shield(event), self.settings.silence_timeout_s
                    )
                except TimeoutError:
                    if self.endpointer.in_speech:
                        continue  # the caller is talking right now: wait for the end
                    return ("silence", None)
        finally:
            played.cancel()
            if not event.done():
                event.cancel()

    async def _understand(
        self, kind: str, payload: Any, prompt: str, ctx: CallContext
    ) -> tuple[Utterance | None, float | None, Transcript | None]:
        self._stt_done = None
        if kind == "dtmf":
            return Utterance(str(payload), 1.0, "dtmf"), None, None
        if kind == "silence":
            return Utterance("", None, "silence"), None, None
        heard: _Heard = payload
        try:
            t = None
            if heard.early is not None:
                # The turn has ended: if the speculative job still waits for Whisper it
                # is now as urgent as any final transcription.
                self.stt_queue.promote(heard.early)
                try:
                    t = await heard.early
                    self.early_stt_used += 1
                except asyncio.CancelledError:
                    # Only the speculative job's own cancellation falls back to a final
                    # transcription. If this call's task is being cancelled (the call is
                    # over), a final job would wait in the shared queue ahead of live
                    # calls for a transcript nobody reads: propagate instead.
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():
                        raise
            if t is None:
                t = await self.stt_queue.transcribe(heard.segment.pcm, prompt)
        except STTError as exc:
            log.warning("call %s: STT failed: %s", ctx.call_id, exc)
            return None, heard.speech_end, None
        self._stt_done = time.monotonic()
        if not t.text:
            log.info("call %s: ignored %s s of audio (%s)", ctx.call_id, t.audio_s, t.dropped)
            return None, heard.speech_end, None
        return Utterance(t.text, t.confidence, "speech"), heard.speech_end, t

    async def _reply(
        self,
        dialogue: Dialogue,
        utterance: Utterance,
        ctx: CallContext,
        voice: Voice,
        out: AudioOut,
        speech_end: float | None,
    ) -> Reply:
        task = asyncio.create_task(dialogue.handle(utterance))
        if speech_end is not None and self.settings.ack_phrases:
            wait = self.settings.ack_after_ms / 1000 - (time.monotonic() - speech_end)
            done, _ = await asyncio.wait({task}, timeout=max(0.0, wait))
            if not done:
                phrase = self.settings.ack_phrases[self.turns % len(self.settings.ack_phrases)]
                with contextlib.suppress(TTSError):
                    ack = await self.tts.synthesize(phrase, voice, ctx.tenant_id)
                    if not task.done():
                        await self._play(out, ack.pcm)
                        self.tts_chars += ack.chars
        return await task

    async def _say(
        self,
        reply: Reply,
        ctx: CallContext,
        voice: Voice,
        out: AudioOut,
        control: CallControl,
        speech_end: float | None,
        stt_ms: float | None = None,
    ) -> None:
        """Speak ``reply`` sentence by sentence; stop at a barge-in.

        The turn is recorded later (:meth:`_record_agent_turn`): its audio is queued
        faster than it plays, so a barge-in usually cuts it after this returns.
        """
        await self._record_agent_turn()  # a previous turn still pending
        reply_ready = time.monotonic()
        sentences = [
            part
            for sentence in reply.sentences
            for part in split_sentences(sentence, self.settings.max_sentence_chars)
        ]
        gen = self._speech_gen
        turn = self._turn = _AgentTurn(reply, fields={})
        first_audio: float | None = None
        chars = 0
        providers: list[str] = []
        cached = 0

        async def synth(text: str) -> Any:
            try:
                return await self.tts.synthesize(text, voice, ctx.tenant_id)
            except TTSError as exc:
                log.error("call %s: no voice for %r: %s", ctx.call_id, text, exc)
                await control.event("tts_failed", text=text, error=str(exc)[:300])
                return None

        pending = asyncio.create_task(synth(sentences[0])) if sentences else None
        for i, sentence in enumerate(sentences):
            assert pending is not None
            speech = await pending
            # Start the next sentence's synthesis while this one plays.
            pending = (
                asyncio.create_task(synth(sentences[i + 1])) if i + 1 < len(sentences) else None
            )
            if gen != self._speech_gen:
                break  # barge-in: the caller has the floor
            if speech is None:
                continue
            start = await self._play(out, speech.pcm)
            if first_audio is None:
                first_audio = time.monotonic()
                turn.at = datetime.now(UTC)
            turn.sentences.append((sentence, start, len(speech.pcm) / 32000))
            chars += speech.chars
            providers.append(speech.provider)
            cached += bool(speech.cached)
        if pending is not None:
            pending.cancel()
        self.turns += 1
        self.tts_chars += chars
        self.tts_providers.update(providers)
        turn.fields = {
            "llm_provider": reply.provider,
            "tts_provider": _summary(providers),
            "tts_chars": chars,
            "stt_ms": stt_ms,
            "reply_ms": _ms(speech_end, reply_ready),
            "first_audio_ms": _ms(speech_end, first_audio),
            "data": {"interrupted": False, "llm_ms": reply.llm_ms, "cached_sentences": cached},
        }
        turn.complete = True
        if turn.cut_at is not None:
            await self._record_agent_turn(turn)  # cut while it was being queued


def fast_path_applies(stt: STTProvider, audio_s: float) -> bool:
    """Whether ``stt`` would transcribe ``audio_s`` seconds on its short-window fast path.

    Off the fast path a lost speculative bet costs a full 30 s window of worker time.
    Providers without a fast path (no ``fast_path_applies``) have no such cost: allowed.
    """
    applies = getattr(stt, "fast_path_applies", None)
    return bool(applies(audio_s)) if callable(applies) else True


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) * 1000, 1)


def _summary(providers: list[str]) -> str:
    """The provider(s) that spoke a turn, e.g. "elevenlabs" or "elevenlabs+offline:pico2wave"."""
    seen: list[str] = []
    for p in providers:
        if p not in seen:
            seen.append(p)
    return "+".join(seen)[:40]


__all__ = [
    "FRAME_MS",
    "DialogueFactory",
    "VoiceConversation",
    "VoiceSettings",
    "fast_path_applies",
    "vocabulary_prompt",
]
