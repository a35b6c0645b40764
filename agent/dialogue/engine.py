"""The receptionist dialogue: greets, collects a lead, confirms, transfers, closes.

Every turn the rules extraction runs first (instant). When an LLM is configured
it may add fields the rules missed, within the turn budget of its
:class:`~agent.llm.chain.FallbackChain`; its output is validated against the
tenant (zones must be listed, budgets must be plausible numbers...) and only
fills gaps: what the rules understood, or what the caller corrected, wins.

What the agent says is templated Italian (short, phone-friendly, never invented
prices or availability), so a dead or slow model never changes what the caller
hears, only how much is understood. The one exception is a caller's question the
FAQ cannot answer confidently: the LLM may phrase the answer from the agency's
facts (``agent/dialogue/answers.py``), within the same turn budget and only if
every checked fact in it is in the agency's data; otherwise the rules reply
(the FAQ answer or the call-back promise) is spoken. That answer is only spoken:
it never touches the lead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.dialogue import phrases as P
from agent.dialogue.answers import MAX_TOKENS, Grounding, answer_messages, build_grounding
from agent.dialogue.answers import check_answer as _check_answer
from agent.dialogue.base import Action, LeadDraft, Reply, Utterance
from agent.dialogue.faq import FaqMatcher
from agent.dialogue.prompt import PromptError, render_greeting, render_prompt
from agent.dialogue.state import State, StateMachine
from agent.extraction import EXTRACTION_SCHEMA, Extraction, Extractor, Intent
from agent.extraction.extractor import REQUEST_TYPES, URGENCIES
from agent.extraction.fields import callback_time
from agent.extraction.text import fold
from agent.extraction.zones import ZoneMatcher
from agent.llm.base import LLMProvider, LLMResult, Message, TextVerdict
from agent.llm.chain import FallbackChain
from agent.llm.rules import RulesProvider
from centralino.tenants.defaults import DEFAULT_QUESTIONS
from centralino.tenants.phone import InvalidPhoneNumber, normalize_e164
from centralino.tenants.service import parse_dialogue_setting

log = logging.getLogger(__name__)

# Question keys the engine knows how to fill from extraction.
KNOWN_KEYS = (
    "name",
    "request_type",
    "property_type",
    "zone",
    "budget",
    "urgency",
    "callback_time",
    "phone",
)
GENERIC_PROPERTY = "appartamento"
MAX_TEXT_CHARS = 2000
_NUMBER = re.compile(r"\d|cento|mila|milion")
# Keys that make a summary worth reading back. What makes a lead (something an agent
# must act on) is wider: see ReceptionistDialogue._caller_left_lead.
LEAD_DATA_KEYS = ("name", "request_type", "property_type", "zone", "budget_min", "budget_max")
# A caller saying why they call, with no field the rules could read ("Salve, volevo
# informazioni su un immobile"): an agent can call back about it.
_INTEREST = re.compile(
    r"\b(?:volevo|vorrei|vorremmo|cerco|cerchiamo|cercando|interessat[oaie]|informazion[ei]|"
    r"info|chiamo per|chiamavo per|annunci[o]?|immobil[ei]|appartament[oi]|casa|case|villa|"
    r"vend(?:ere|o|iamo)|compr(?:are|o)|acquist(?:are|o)|affitt(?:are|o)|valutazione|visita)\b"
)
# Words that check the line, greet or misdial: the caller said nothing to act on.
_PHATIC_WORDS = (
    "pronto pronti mi sente sentite senti sento sentiamo sentire sentirmi riesce "
    "buongiorno buonasera buon giorno sera salve ciao si no ok okay eh ehm mh mm uhm "
    "allora ah oh beh scusi scusa chi parla parlo con qui li la le lo ci non ho capito "
    "come cosa grazie pardon ma sbagliato numero hallo hello sono io lei chiamato "
    "chiamata linea cade momento attimo aspetti un una ecco niente nulla arrivederci "
    "dica prego di da a e c il"
)
_PHATIC = frozenset(_PHATIC_WORDS.split())


@dataclass(frozen=True)
class DialogueSettings:
    """Per-tenant knobs (tenant ``settings["dialogue"]``)."""

    max_silences: int = 2  # silences in a row before a polite close
    max_asks: int = 2  # times one question is asked before moving on
    max_confirm_rounds: int = 3
    llm_budget_s: float = 0.6  # per-turn time budget for the LLM
    confirm: bool = True  # read back a summary before closing
    # With an LLM configured: let it phrase answers to questions the FAQ cannot answer
    # confidently (grounded in the agency's facts, checked, within the turn budget).
    # Opt-in per tenant: no real model has been measured against the checks, and on a
    # CPU-only server every such question would wait the whole budget for nothing.
    llm_answers: bool = False

    @classmethod
    def from_tenant(cls, tenant: dict[str, Any], *, strict: bool = False) -> DialogueSettings:
        """The tenant's settings. A wrongly typed value (``confirm: "false"``, a zero
        budget) is logged at ERROR, naming its key, and that key's default is used:
        one bad knob must not take every call of the tenant to the dialplan fallback.
        ``strict`` raises ValueError instead (the tenant is also checked when saved:
        centralino.tenants.service.parse_spec)."""
        raw = (tenant.get("settings") or {}).get("dialogue") or {}
        if not isinstance(raw, dict):
            if strict:
                raise ValueError(f"settings.dialogue must be a table, not {raw!r}")
            log.error("tenant %s: settings.dialogue is not a table; defaults used", _who(tenant))
            raw = {}
        kwargs: dict[str, Any] = {}
        for name, default in cls().__dict__.items():
            if name not in raw:
                continue
            try:
                kwargs[name] = parse_dialogue_setting(name, raw[name])
            except ValueError as exc:
                if strict:
                    raise
                log.error("tenant %s: %s; using the default %r", _who(tenant), exc, default)
        return cls(**kwargs)


def _who(tenant: dict[str, Any]) -> str:
    return str(tenant.get("slug") or tenant.get("id") or tenant.get("name") or "?")


@dataclass
class Turn:
    speaker: str  # "caller" | "agent"
    text: str
    t: float  # seconds since the call started
    kind: str = "speech"
    confidence: float | None = None
    provider: str = ""
    action: str = ""
    state: str = ""
    # Only on turns where the LLM was asked to answer a question: "llm" when its answer
    # was spoken, else what the rules said ("faq", "callback", "noted"), and why.
    answered_by: str = ""
    fallback: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass
class _Question:
    key: str
    text: str
    required: bool


@dataclass
class _Progress:
    asks: dict[str, int] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)
    extra: dict[str, str] = field(default_factory=dict)  # answers to custom questions
    # The caller left a message, asked something the agent could not answer, or asked
    # for a person who was not available: someone must call back.
    callback_promised: bool = False
    faq_answered: bool = False  # a caller who got their answer did not abandon the call
    # The caller's own words reached the notes (a statement of interest, an answer the
    # rules did not understand...): an agent has something to act on.
    caller_noted: bool = False


class ReceptionistDialogue:
    """One call's dialogue; implements :class:`agent.dialogue.base.Dialogue`."""

    def __init__(
        self,
        tenant: dict[str, Any],
        caller_id: str = "",
        in_business_hours: bool = True,
        llm: LLMProvider | None = None,
        clock: Callable[[], float] | None = None,
        settings: DialogueSettings | None = None,
    ) -> None:
        self.tenant = tenant
        self.agency = str(tenant.get("name") or "")
        self.in_business_hours = in_business_hours
        self.transfer_number = str(tenant.get("transfer_number") or "")
        self.settings = settings or DialogueSettings.from_tenant(tenant)
        self.llm = llm
        self._clock = clock or time.monotonic
        self._t0 = self._clock()
        zones = [str(z) for z in tenant.get("zones") or []]
        self.extractor = Extractor(zones)
        self.zones = ZoneMatcher(zones)
        self.faq = FaqMatcher(tenant.get("faq") or [])
        # Answers phrased by the LLM: off without an LLM or when the tenant says so.
        self.answerer: FallbackChain | None = None
        self.grounding: Grounding | None = None
        if llm is not None and self.settings.llm_answers:
            self.answerer = (
                llm
                if isinstance(llm, FallbackChain)
                else FallbackChain(
                    [llm], RulesProvider(self.extractor), budget_s=self.settings.llm_budget_s
                )
            )
            self.grounding = build_grounding(tenant)
        self._answer_task: asyncio.Task[LLMResult] | None = None
        self._answer_deadline = 0.0  # loop time by which the answer task must be done
        self._answer_record: tuple[str, str] | None = None  # (answered_by, fallback)
        self.machine = StateMachine()
        self.lead = LeadDraft()
        self.transcript: list[Turn] = []
        self.progress = _Progress()
        self.pending: str | None = None  # question key just asked (or "message"/"correction")
        self.last_question = ""
        self.last_reply: Reply | None = None
        self.silences = 0
        self.confirm_rounds = 0
        self.confirmed = False
        self.transferred = False
        self.closed_normally = False
        self.caller_phone = ""
        try:
            self.caller_phone = normalize_e164(caller_id) if caller_id else ""
        except InvalidPhoneNumber:
            # Anonymous / withheld caller ids ("anonymous", "") - ask for a number.
            self.caller_phone = ""
        if self.caller_phone:
            self.lead.phone = self.caller_phone
            self.lead.confidence["phone"] = 0.9
        self.questions = self._questions()
        try:
            self.system_prompt = render_prompt(tenant.get("prompt_template"), tenant)
        except PromptError as exc:
            # A broken template must not break calls: fall back to the default one.
            log.warning("tenant %s prompt template invalid: %s", tenant.get("slug"), exc)
            self.system_prompt = render_prompt(None, tenant)

    # ------------------------------------------------------------------ API

    @property
    def state(self) -> State:
        return self.machine.state

    async def start(self) -> Reply:
        greeting = render_greeting(self.tenant.get("greeting"), self.tenant)
        reply = Reply(P.split_sentences(greeting))
        self.last_question = greeting
        self._record_agent(reply)
        return reply

    async def handle(self, utterance: Utterance) -> Reply:
        text = (utterance.text or "").strip()
        self.transcript.append(
            Turn(
                "caller",
                text,
                self._now(),
                kind=utterance.kind,
                confidence=utterance.confidence,
                state=str(self.state),
            )
        )
        try:
            if self.state in (State.ENDED, State.CLOSING, State.TRANSFERRING):
                reply = Reply(["Arrivederci!"], Action.HANGUP)
            elif utterance.kind == "dtmf":
                reply = await self._on_dtmf(text)
            elif utterance.kind == "silence" or not re.search(r"[a-z0-9]", fold(text)):
                reply = self._on_silence()
            else:
                self.silences = 0
                # Extraction is synchronous: bound it so a runaway transcript cannot
                # hold the event loop (a 30 s utterance is well under this).
                reply = await self._on_speech(text[:MAX_TEXT_CHARS], utterance.confidence)
        except Exception:
            # A bug must not drop the call: keep what we have and ask again.
            log.exception("dialogue failed on %r; asking the caller to repeat", text[:200])
            self._note_caller(f"Errore interno su: {text[:200]}", text)
            reply = Reply([P.NOT_UNDERSTOOD, *P.split_sentences(self.last_question)])
        finally:
            # An answer asked for a question the turn did not end up answering.
            await self._drop_answer()
        self._record_agent(reply)
        return reply

    async def transfer_failed(self) -> Reply:
        """The voice pipeline could not transfer: take a message instead."""
        self.transferred = False
        if self.state == State.TRANSFERRING:
            self.machine.go(State.COLLECTING)
        self.pending = "message"
        reply = Reply(P.split_sentences(P.TRANSFER_FAILED))
        self._record_agent(reply)
        return reply

    def result(self) -> dict[str, Any]:
        if self.transferred:
            outcome = "transferred"
        elif self._caller_left_lead():
            outcome = "lead"
        elif self.closed_normally or self.progress.faq_answered:
            outcome = "completed"
        else:
            # Nothing to act on (silence, a misdial, a robocall): no lead is delivered;
            # the call log keeps the caller id for a call-back.
            outcome = "abandoned"
        missing = self._missing()
        lead = self.lead.as_dict()
        lead["notes"] = "\n".join(filter(None, [lead["notes"], *self._result_notes(outcome)]))
        return {
            "outcome": outcome,
            "lead": lead,
            "missing": missing,
            "confirmed": self.confirmed,
            "state": str(self.state),
            "transfer_to": self.transfer_number if self.transferred else "",
            "answers": dict(self.progress.extra),
            "transcript": [t.as_dict() for t in self.transcript],
        }

    # ------------------------------------------------------------- turns

    async def _on_speech(self, text: str, confidence: float | None) -> Reply:
        expecting = self.pending if self.pending in KNOWN_KEYS else None
        has_budget = self.lead.budget_min is not None or self.lead.budget_max is not None
        if self.state == State.CONFIRMING and has_budget and _NUMBER.search(fold(text)):
            # "No, sono 650": a bare number while confirming corrects the budget.
            expecting = "budget"
        ext = self.extractor.extract(
            text, expecting=expecting, request_type=self.lead.request_type, confidence=confidence
        )
        intents = ext.intents
        if Intent.TRANSFER in intents:
            # "Sono Fabio Testa, mi passi un operatore": keep what was said on the way.
            self._merge(ext, overwrite=True)
            return self._transfer()
        if Intent.REPEAT in intents and not ext.fields:
            return self._repeat()
        if self.pending == "message":
            return self._take_message(text, ext)
        # Started before the extraction so both share the turn budget instead of adding up.
        self._start_answer(text, ext)
        provider, llm_ms = "rules", None
        if self.llm is not None and self._needs_llm(text, ext):
            provider, llm_ms = await self._llm_enrich(text, ext)
        if self.state == State.CONFIRMING:
            if "callback_time" not in ext.fields and self.lead.callback_time:
                # "No, meglio domani pomeriggio": a time while confirming corrects the call-back.
                when = callback_time(fold(text))
                if when is not None:
                    ext.set("callback_time", *when)
            return await self._on_confirm(text, ext, provider, llm_ms)
        if self.state == State.GREETING:
            self.machine.go(State.COLLECTING)

        changed = self._merge(ext, overwrite=True)
        custom = self._custom_answer(text, ext, changed)
        answered = bool(changed) or custom
        interest = not changed and not custom and Intent.QUESTION not in intents
        if interest and _INTEREST.search(fold(text)):
            self._note_caller(f"Richiesta del cliente: {text}", text)

        prefix: list[str] = []
        if Intent.QUESTION in intents and self.pending not in changed:
            faq = self.faq.match(text)
            self.machine.go(State.FAQ)
            answer = await self._llm_answer()
            if answer is not None and answer.text:
                prefix.extend(P.split_sentences(answer.text))
                self.progress.faq_answered = True
            elif faq is not None:
                prefix.append(faq.answer)
                self.progress.faq_answered = True
            elif changed:
                prefix.append(P.NOTED)
            else:
                prefix.append(P.OFF_TOPIC)
                self._note(f"Domanda del cliente: {text}")
                self.progress.callback_promised = True
            if answer is not None:
                by = "faq" if faq is not None else "noted" if changed else "callback"
                provider, llm_ms = self._answer_turn(answer, by, llm_ms)
            self.machine.go(State.COLLECTING)
            answered = True
        elif Intent.GOODBYE in intents and not changed:
            return self._close(goodbye=True)
        elif self.pending and not answered:
            if Intent.DONT_KNOW in intents or Intent.NO in intents:
                self.progress.skipped.add(self.pending)
                answered = True
            elif self.progress.asks.get(self.pending, 0) >= self.settings.max_asks:
                self.progress.skipped.add(self.pending)
                self._note_caller(f"Risposta non compresa ({self.pending}): {text}", text)
                answered = True
        # (With nothing pending - the greeting - _next below asks the first question.)
        if not answered and Intent.YES not in intents and self.pending:
            return self._ask(self.pending, prefix=[P.NOT_UNDERSTOOD], provider=provider)
        if changed and not prefix:
            prefix.append(self._ack(changed))
        return self._next(prefix, provider=provider, llm_ms=llm_ms)

    async def _on_confirm(
        self, text: str, ext: Extraction, provider: str, llm_ms: float | None
    ) -> Reply:
        intents = ext.intents
        changed = self._merge(ext, overwrite=True) if ext.fields else []
        if changed:
            # "No, il budget è 300 mila": apply and read back again.
            self.confirm_rounds += 1
            if self.confirm_rounds >= self.settings.max_confirm_rounds:
                return self._close()
            return self._confirm([P.CORRECTED], provider=provider, llm_ms=llm_ms)
        if self.pending == "correction" and not (intents & {Intent.YES, Intent.GOODBYE}):
            self._note(f"Correzione del cliente: {text}")
            return self._close()
        if Intent.NO in intents:
            self.pending = "correction"
            return self._reply([P.CORRECT_WHAT], provider=provider, llm_ms=llm_ms)
        if Intent.YES in intents or Intent.GOODBYE in intents:
            self.confirmed = Intent.YES in intents
            if self.confirmed:
                for key in list(self.lead.confidence):
                    self.lead.confidence[key] = max(self.lead.confidence[key], 0.95)
            return self._close()
        if Intent.QUESTION in intents:
            faq = self.faq.match(text)
            llm_answer = await self._llm_answer()
            if llm_answer is not None and llm_answer.text:
                answer = llm_answer.text
                self.progress.faq_answered = True
            else:
                answer = faq.answer if faq else P.OFF_TOPIC
                if faq is None:
                    self._note(f"Domanda del cliente: {text}")
                    self.progress.callback_promised = True
            if llm_answer is not None:
                by = "faq" if faq is not None else "callback"
                provider, llm_ms = self._answer_turn(llm_answer, by, llm_ms)
            return self._reply(
                [*P.split_sentences(answer), P.CONFIRM_AGAIN], provider=provider, llm_ms=llm_ms
            )
        self.confirm_rounds += 1
        if self.confirm_rounds >= self.settings.max_confirm_rounds:
            return self._close()
        return self._reply([P.CONFIRM_AGAIN], provider=provider, llm_ms=llm_ms)

    async def _on_dtmf(self, digits: str) -> Reply:
        digits = digits.strip()
        if digits == "0":
            return self._transfer()
        if self.state == State.CONFIRMING and digits in ("1", "2"):
            return await self._on_confirm(
                digits, self.extractor.extract("sì" if digits == "1" else "no"), "rules", None
            )
        if self.pending == "phone" and digits.strip("#*").isdigit():
            return await self._on_speech(digits.strip("#*"), 1.0)
        return self._repeat()

    def _on_silence(self) -> Reply:
        self.silences += 1
        if self.silences >= self.settings.max_silences:
            self._note("Chiamata chiusa per silenzio")
            return self._hangup([P.SILENCE_CLOSE])
        sentences = P.split_sentences(self.last_question or "Come posso aiutarla?")
        if self.state == State.GREETING:
            # Not the whole greeting again: just its question.
            sentences = sentences[-1:]
        return Reply([P.SILENCE_REPROMPT, *sentences])

    # ---------------------------------------------------------- actions

    def _transfer(self) -> Reply:
        if self.in_business_hours and self.transfer_number:
            self.machine.go(State.TRANSFERRING)
            self.transferred = True
            self.pending = None
            return Reply(
                P.split_sentences(P.TRANSFER), Action.TRANSFER, transfer_to=self.transfer_number
            )
        self._note("Il cliente ha chiesto di parlare con un collega")
        self.progress.callback_promised = True
        if self.state == State.GREETING:
            self.machine.go(State.COLLECTING)
        self.pending = "message"
        return Reply(P.split_sentences(P.TRANSFER_UNAVAILABLE))

    def _take_message(self, text: str, ext: Extraction) -> Reply:
        self._note(f"Messaggio: {text}")
        self.progress.callback_promised = True
        self._merge(ext, overwrite=False)
        self.pending = None
        if self.state == State.CONFIRMING:
            return self._confirm([P.MESSAGE_TAKEN])
        return self._next([P.MESSAGE_TAKEN])

    def _repeat(self) -> Reply:
        if self.pending in KNOWN_KEYS or self.pending in {q.key for q in self.questions}:
            return Reply(["Certo.", *P.split_sentences(self.last_question)])
        if self.last_reply is not None and self.last_reply.sentences:
            return Reply(["Certo.", *self.last_reply.sentences], self.last_reply.action)
        return Reply(["Certo.", *P.split_sentences(self.last_question)])

    def _close(self, *, goodbye: bool = False) -> Reply:
        if self._caller_left_lead():
            text = P.closing(self.lead, self.agency)
        else:
            text = P.goodbye(self.agency)
        self.closed_normally = True
        return self._hangup(P.split_sentences(text))

    def _hangup(self, sentences: list[str]) -> Reply:
        if self.state not in (State.CLOSING, State.ENDED):
            if self.state == State.GREETING:
                self.machine.go(State.COLLECTING)
            self.machine.go(State.CLOSING)
        self.machine.go(State.ENDED)
        self.pending = None
        return Reply(sentences, Action.HANGUP)

    def _next(
        self, prefix: list[str], *, provider: str = "rules", llm_ms: float | None = None
    ) -> Reply:
        question = self._next_question()
        if question is not None:
            return self._ask(question.key, prefix=prefix, provider=provider, llm_ms=llm_ms)
        if self.settings.confirm and self._has_lead_data():
            return self._confirm(prefix, provider=provider, llm_ms=llm_ms)
        return self._close()

    def _ask(
        self,
        key: str,
        *,
        prefix: list[str] | None = None,
        provider: str = "rules",
        llm_ms: float | None = None,
    ) -> Reply:
        text = self._question_text(key)
        self.pending = key
        self.progress.asks[key] = self.progress.asks.get(key, 0) + 1
        self.last_question = text
        return Reply([*(prefix or []), *P.split_sentences(text)], provider=provider, llm_ms=llm_ms)

    def _confirm(
        self, prefix: list[str], *, provider: str = "rules", llm_ms: float | None = None
    ) -> Reply:
        if self.state != State.CONFIRMING:
            self.machine.go(State.CONFIRMING)
        self.pending = None
        text = P.summary(self.lead, caller_phone=self.caller_phone)
        self.last_question = text
        return Reply([*prefix, *P.split_sentences(text)], provider=provider, llm_ms=llm_ms)

    def _reply(self, sentences: list[str], *, provider: str, llm_ms: float | None) -> Reply:
        return Reply(sentences, provider=provider, llm_ms=llm_ms)

    # ------------------------------------------------------------ helpers

    def _questions(self) -> list[_Question]:
        raw = self.tenant.get("questions") or DEFAULT_QUESTIONS
        qs = [
            _Question(str(q["key"]), str(q.get("text") or ""), bool(q.get("required", False)))
            for q in raw
            if isinstance(q, dict) and q.get("key")
        ]
        if not self.caller_phone and not any(q.key == "phone" for q in qs):
            qs.append(_Question("phone", P.PHONE_QUESTION, True))
        # Required first, each group in the tenant's order.
        return [q for q in qs if q.required] + [q for q in qs if not q.required]

    def _question_text(self, key: str) -> str:
        q = next((q for q in self.questions if q.key == key), None)
        default = next((d["text"] for d in DEFAULT_QUESTIONS if d["key"] == key), None)
        text = q.text if q and q.text else (default or "")
        if key == "property_type" and self.lead.property_type == GENERIC_PROPERTY:
            owner = self.lead.request_type in ("sell", "rent_out", "valuation")
            return P.ROOMS_OWNER if owner else P.ROOMS_SEEKER
        if key == "phone" and not text:
            text = P.PHONE_QUESTION
        # Adapt the default wording for sellers/landlords ("Qual è il suo budget?" is odd).
        if default is not None and text == default:
            if self.lead.request_type in ("sell", "valuation"):
                text = P.SELLER_QUESTIONS.get(key, text)
            elif self.lead.request_type == "rent_out":
                text = P.LANDLORD_QUESTIONS.get(key, text)
        return text

    def _filled(self, key: str) -> bool:
        if key == "property_type" and self.lead.property_type == GENERIC_PROPERTY:
            # "Un appartamento" says little: ask once how many rooms.
            return self.progress.asks.get(key, 0) > 0
        if key == "budget":
            return self.lead.budget_min is not None or self.lead.budget_max is not None
        if key in KNOWN_KEYS:
            return bool(getattr(self.lead, key))
        return key in self.progress.extra

    def _next_question(self) -> _Question | None:
        for q in self.questions:
            if self._filled(q.key) or q.key in self.progress.skipped:
                continue
            # A valuation has no budget: the agency tells the caller the price.
            if q.key == "budget" and self.lead.request_type == "valuation":
                continue
            return q
        return None

    def _missing(self) -> list[str]:
        return [q.key for q in self.questions if not self._filled(q.key)]

    def _has_lead_data(self) -> bool:
        return any(getattr(self.lead, k) not in ("", None) for k in LEAD_DATA_KEYS) or bool(
            self.progress.extra
        )

    def _caller_left_lead(self) -> bool:
        """Anything an agent must act on: a lead field the caller gave, an answer, a
        message, an unanswered question, a request for a person, a number to call, or
        any words of the caller in the notes (why they called, answers the rules did
        not understand). A silent call or only "Pronto?" is no lead."""
        return (
            self._has_lead_data()
            or bool(self.lead.urgency or self.lead.callback_time)
            or bool(self.lead.phone and self.lead.phone != self.caller_phone)
            or self.progress.callback_promised
            or self.progress.caller_noted
        )

    def _result_notes(self, outcome: str) -> list[str]:
        """What the agency should know about a lead beyond its fields."""
        notes = []
        if self.lead.timing:
            notes.append(f"Tempistica indicata dal cliente: {self.lead.timing}")
        if outcome == "lead":
            if self.state != State.ENDED:
                notes.append(P.HUNG_UP_NOTE)
            # A valuation is never asked a budget: the agency gives the price.
            keys = [
                k
                for k in self._missing()
                if not (k == "budget" and self.lead.request_type == "valuation")
            ]
            missing = [P.MISSING_LABELS.get(k, k.replace("_", " ")) for k in keys]
            if missing:
                notes.append("Dati mancanti: " + ", ".join(missing))
        return [n for n in notes if n not in self.lead.notes]

    def _merge(self, ext: Extraction, *, overwrite: bool) -> list[str]:
        """Apply extracted fields to the lead; returns the question keys that changed."""
        changed: list[str] = []
        for key, value in ext.fields.items():
            if value in (None, ""):
                continue
            current = getattr(self.lead, key)
            if current == value or (current not in ("", None) and not overwrite):
                continue
            # The generic "appartamento" never replaces a precise "trilocale".
            if key == "property_type" and value == GENERIC_PROPERTY and current:
                continue
            # A low-confidence guess never replaces a confident answer.
            if current not in ("", None) and ext.confidence.get(key, 0) < 0.5:
                continue
            setattr(self.lead, key, value)
            self.lead.confidence[key] = ext.confidence.get(key, 0.5)
            changed.append("budget" if key.startswith("budget_") else key)
        # An urgency without the caller's words (from the LLM) makes the old words stale.
        if "urgency" in changed and "timing" not in ext.fields:
            self.lead.timing = ""
            self.lead.confidence.pop("timing", None)
        # A new budget replaces the whole range ("no, il budget è 300 mila").
        new_min, new_max = ext.fields.get("budget_min"), ext.fields.get("budget_max")
        if new_max is not None and new_min is None:
            too_high = self.lead.budget_min is not None and self.lead.budget_min > new_max
            if too_high or (overwrite and self.state == State.CONFIRMING):
                self.lead.budget_min = None
        if new_min is not None and new_max is None:
            too_low = self.lead.budget_max is not None and self.lead.budget_max < new_min
            if too_low or (overwrite and self.state == State.CONFIRMING):
                self.lead.budget_max = None
        for note in ext.notes:
            # The extraction's notes quote the caller ("Zona richiesta non in elenco").
            self._note(note)
            self.progress.caller_noted = True
        return list(dict.fromkeys(changed))

    def _custom_answer(self, text: str, ext: Extraction, changed: list[str]) -> bool:
        """A tenant's own question (not a lead field): keep the caller's words."""
        key = self.pending
        if not key or key in KNOWN_KEYS or key in ("message", "correction"):
            return False
        if ext.intents & {Intent.QUESTION, Intent.GOODBYE, Intent.REPEAT} and not changed:
            return False
        self.progress.extra[key] = text
        self._note(f"{self._question_text(key)} {text}")
        return True

    def _note(self, note: str) -> None:
        if note and note not in self.lead.notes:
            self.lead.notes = f"{self.lead.notes}\n{note}".strip()

    def _note_caller(self, note: str, said: str) -> None:
        """A note quoting the caller: it makes the call a lead when the caller said
        more than a line check or a greeting ("Pronto?", "Mi sente?")."""
        self._note(note)
        if _says_something(said):
            self.progress.caller_noted = True

    def _ack(self, changed: list[str]) -> str:
        if "name" in changed and self.lead.name:
            return f"Piacere, {self.lead.name.split()[0]}."
        return P.ACKS[len(self.transcript) // 2 % len(P.ACKS)]

    def _record_agent(self, reply: Reply) -> None:
        self.last_reply = reply
        answered_by, fallback = self._answer_record or ("", "")
        self._answer_record = None
        self.transcript.append(
            Turn(
                "agent",
                reply.text,
                self._now(),
                provider=reply.provider,
                action=str(reply.action),
                state=str(self.state),
                answered_by=answered_by,
                fallback=fallback,
            )
        )

    def _now(self) -> float:
        return round(self._clock() - self._t0, 3)

    # --------------------------------------------------------------- LLM

    def _needs_llm(self, text: str, ext: Extraction) -> bool:
        """Ask the LLM only when it can add something: every LLM call may cost the
        caller up to the turn budget, so turns the rules fully understood skip it."""
        words = len(fold(text).split())
        if words < 2:
            return False
        if self.state == State.CONFIRMING and ext.intents & {Intent.YES, Intent.NO}:
            return not ext.fields and words > 4
        answered = {"budget" if k.startswith("budget_") else k for k in ext.fields}
        # Long turns may hold more than the rules found; short unknown ones need help.
        return not (self.pending in answered and words <= 6)

    async def _llm_enrich(self, text: str, ext: Extraction) -> tuple[str, float | None]:
        assert self.llm is not None
        messages: list[Message] = [
            {"role": "system", "content": self.system_prompt + "\n\n" + _EXTRACT_INSTRUCTIONS},
        ]
        if self.last_question:
            messages.append(
                {"role": "assistant", "content": self.last_question, "key": self.pending or ""}
            )
        messages.append({"role": "user", "content": text})
        try:
            result = await self.llm.chat(
                messages, schema=EXTRACTION_SCHEMA, timeout=self.settings.llm_budget_s
            )
        except Exception:  # the chain never raises; a bare provider might
            log.exception("LLM extraction failed; rules only this turn")
            return "rules", None
        if result.provider != "rules" and result.data:
            for key, (value, conf) in validate_llm_fields(result.data, self.zones).items():
                if key not in ext.fields:
                    ext.set(key, value, conf)
        return result.provider or "rules", round(result.elapsed_ms, 1)

    def _start_answer(self, text: str, ext: Extraction) -> None:
        """Ask the LLM to answer a question the FAQ cannot answer confidently, in the
        background: the rules go on meanwhile and the turn collects it (or drops it)."""
        if self.answerer is None or self.grounding is None or Intent.QUESTION not in ext.intents:
            return
        if self.state == State.CONFIRMING and (
            self.pending == "correction" or ext.intents & {Intent.YES, Intent.NO, Intent.GOODBYE}
        ):
            return  # the summary's answer wins over the question: no LLM answer is spoken
        answered = {"budget" if k.startswith("budget_") else k for k in ext.fields}
        if self.pending in answered:
            return  # "Mario Rossi, avete un parcheggio?": the answer to our question wins
        faq = self.faq.match(text)
        if faq is not None and faq.score >= self.faq.confident:
            return  # the FAQ answer is read as it is, at once
        grounding = self.grounding

        def check(streamed: str, final: bool) -> TextVerdict:
            return _check_answer(streamed, final, grounding, text)

        loop = asyncio.get_running_loop()
        self._answer_deadline = loop.time() + self.settings.llm_budget_s
        self._answer_task = loop.create_task(
            self.answerer.stream_text(
                answer_messages(grounding, self.agency, text),
                check,
                timeout=self.settings.llm_budget_s,
                max_tokens=MAX_TOKENS,
            )
        )

    async def _llm_answer(self) -> LLMResult | None:
        """The LLM's answer to this turn's question (empty text: the rules answer);
        None when it was not asked. Never waits past the turn budget."""
        task, self._answer_task = self._answer_task, None
        if task is None:
            return None
        try:
            # The chain keeps the budget itself; this bound only guards against a bug in it.
            left = self._answer_deadline - asyncio.get_running_loop().time()
            return await asyncio.wait_for(task, max(0.0, left) + 0.05)
        except TimeoutError:
            # A slow model is an expected fallback, not a bug: no stack trace.
            log.info("LLM answer timed out; the rules answer this question")
            return LLMResult("", None, "rules", 0.0, ["timeout"])
        except Exception as exc:
            log.exception("LLM answer failed; the rules answer this question")
            return LLMResult("", None, "rules", 0.0, [f"{type(exc).__name__}: {exc}"])

    def _answer_turn(
        self, answer: LLMResult, rules_by: str, llm_ms: float | None
    ) -> tuple[str, float | None]:
        """Provider and LLM time of a turn whose question the LLM was asked to answer:
        the provider whose words are spoken (``rules`` when the rules reply was used)."""
        spoke = bool(answer.text)
        reason = "; ".join(answer.fallbacks) if not spoke else ""
        self._answer_record = ("llm" if spoke else rules_by, reason)
        if not spoke:
            log.info("question answered by the rules (%s): %s", rules_by, reason or "-")
        ms = round(answer.elapsed_ms, 1)
        return (answer.provider if spoke else "rules"), max(llm_ms or 0.0, ms)

    async def _drop_answer(self) -> None:
        task, self._answer_task = self._answer_task, None
        if task is None:
            return
        task.cancel()
        # asyncio.wait never raises: a cancellation of this turn itself still propagates.
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is not None:
            log.debug("dropped LLM answer had failed", exc_info=task.exception())


def _says_something(text: str) -> bool:
    return any(len(w) >= 3 and w not in _PHATIC for w in re.findall(r"[a-z]+", fold(text)))


_EXTRACT_INSTRUCTIONS = (
    "Estrai dal messaggio del cliente i dati della richiesta. Rispondi solo con un oggetto "
    "JSON con le chiavi: name, phone, request_type (buy, sell, rent, rent_out, valuation), "
    "property_type, zone, budget_min, budget_max (euro, numeri interi), urgency (high, medium, "
    "low), callback_time. Usa null per ciò che il cliente non ha detto. Non inventare nulla."
)


def validate_llm_fields(data: dict[str, Any], zones: ZoneMatcher) -> dict[str, tuple[Any, float]]:
    """Keep only plausible LLM fields, normalised; never trust the model blindly."""
    out: dict[str, tuple[Any, float]] = {}
    conf = 0.6
    name = data.get("name")
    if isinstance(name, str) and 2 <= len(name) <= 60:
        parts = name.replace("'", "").split()
        if 1 <= len(parts) <= 4 and all(p.isalpha() for p in parts):
            out["name"] = (" ".join(w[:1].upper() + w[1:] for w in name.split()), conf)
    if data.get("request_type") in REQUEST_TYPES:
        out["request_type"] = (data["request_type"], conf)
    if data.get("urgency") in URGENCIES:
        out["urgency"] = (data["urgency"], conf)
    prop = data.get("property_type")
    if isinstance(prop, str) and 3 <= len(prop) <= 40:
        from agent.extraction.fields import property_type

        found = property_type(fold(prop))
        if found:
            out["property_type"] = (found[0], conf)
    zone = data.get("zone")
    if isinstance(zone, str) and zone.strip():
        match = zones.find(zone)
        if match is not None and match.listed:
            out["zone"] = (match.zone, conf)
    for key in ("budget_min", "budget_max"):
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if 100 <= value <= 50_000_000:
            out[key] = (int(value), conf)
    if "budget_min" in out and "budget_max" in out and out["budget_min"][0] > out["budget_max"][0]:
        del out["budget_min"], out["budget_max"]
    when = data.get("callback_time")
    if isinstance(when, str) and 3 <= len(when) <= 60:
        out["callback_time"] = (when.strip(), 0.5)
    phone = data.get("phone")
    if isinstance(phone, str):
        with contextlib.suppress(InvalidPhoneNumber):
            out["phone"] = (normalize_e164(phone), 0.5)
    return out
