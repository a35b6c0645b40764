"""State machine, prompt templates, FAQ matching, phrases, factory."""

from __future__ import annotations

import logging

import pytest

from agent.dialogue.base import LeadDraft
from agent.dialogue.engine import DialogueSettings, ReceptionistDialogue
from agent.dialogue.factory import make_dialogue
from agent.dialogue.faq import FaqMatcher
from agent.dialogue.phrases import money, split_sentences, summary
from agent.dialogue.prompt import PromptError, render_greeting, render_prompt, validate_template
from agent.dialogue.state import TRANSITIONS, InvalidTransition, State, StateMachine
from agent.llm.chain import FallbackChain
from agent.llm.rules import RulesProvider
from centralino.tenants.service import DIALOGUE_SETTINGS


def test_state_transitions_are_validated():
    m = StateMachine()
    m.go(State.COLLECTING)
    m.go(State.CONFIRMING)
    with pytest.raises(InvalidTransition, match="confirming -> ended"):
        m.go(State.ENDED)
    m.go(State.CLOSING)
    m.go(State.ENDED)
    with pytest.raises(InvalidTransition):
        m.go(State.COLLECTING)
    assert m.history == ["greeting", "collecting", "confirming", "closing", "ended"]
    assert TRANSITIONS[State.ENDED] == frozenset()
    assert set(TRANSITIONS) == set(State)


def test_validate_template():
    assert validate_template("Sei la centralinista di {{ agency }}. Zone: {{ zones }}.") == []
    errors = validate_template("Ciao {{ agenzia }} e {{ zone }}")
    assert len(errors) == 2
    assert errors[0].startswith("Variabile sconosciuta: {{ agenzia }}")
    assert "{{ zone }}" in errors[1]
    [syntax] = validate_template("Ciao {{ agency }\nriga due {% if %}")
    assert syntax.startswith("Errore di sintassi alla riga")
    assert validate_template("   ") == ["Il modello è vuoto."]


def test_render_prompt(tenant):
    text = render_prompt("Agenzia {{ agency }}; zone: {{ zones }}; {{ questions }}", tenant)
    assert text.startswith("Agenzia Immobiliare Demo; zone: Navigli, Porta Romana, Città Studi")
    assert "Posso sapere il suo nome e cognome?" in text
    # Empty template: the default one.
    assert "Immobiliare Demo" in render_prompt("", tenant)
    with pytest.raises(PromptError) as err:
        render_prompt("{{ secret }}", tenant)
    assert err.value.errors[0].startswith("Variabile sconosciuta")


def test_template_is_sandboxed(tenant):
    with pytest.raises(PromptError):
        render_prompt("{{ agency.__class__.__mro__[1].__subclasses__() }}", tenant)


def test_broken_tenant_template_does_not_break_calls(tenant):
    tenant["prompt_template"] = "{{ nope }}"
    d = make_dialogue(tenant, "+393331112222", True)
    assert "Immobiliare Demo" in d.system_prompt


@pytest.mark.parametrize(
    "greeting",
    ["Buongiorno, ha chiamato {agency}.", "Buongiorno, ha chiamato {{ agency }}.", ""],
)
def test_render_greeting(tenant, greeting):
    assert "ha chiamato Immobiliare Demo." in render_greeting(greeting, tenant)


FAQ = [
    {"question": "orari di apertura", "answer": "Dalle 9 alle 19."},
    {"question": "dove si trova l'agenzia", "answer": "In via Roma 1."},
    {"question": "quanto è la provvigione?", "answer": "Il 3 per cento."},
    {"question": "la valutazione è gratuita?", "answer": "Sì, è gratuita."},
]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("A che ora aprite?", "Dalle 9 alle 19."),
        ("siete aperti il sabato?", "Dalle 9 alle 19."),
        ("quali sono gli orari?", "Dalle 9 alle 19."),
        ("dove siete?", "In via Roma 1."),
        ("qual è il vostro indirizzo", "In via Roma 1."),
        ("quanto prendete di commissione?", "Il 3 per cento."),
        ("la valutazione la fate gratis?", "Sì, è gratuita."),
    ],
)
def test_faq_matching(text, answer):
    match = FaqMatcher(FAQ).match(text)
    assert match is not None and match.answer == answer


@pytest.mark.parametrize("text", ["avete un parcheggio?", "che tempo fa?", "cerco un bilocale"])
def test_faq_no_match(text):
    assert FaqMatcher(FAQ).match(text) is None


def test_faq_ignores_broken_entries():
    assert FaqMatcher([{"question": "x"}, {"answer": "y"}, {}]).entries == []


@pytest.mark.parametrize(
    ("value", "spoken"),
    [
        (400_000, "400 mila euro"),
        (1_200_000, "un milione e 200 mila euro"),
        (2_500_000, "2 milioni e 500 mila euro"),
        (1_000_000, "un milione euro"),
        (850, "850 euro"),
    ],
)
def test_money(value, spoken):
    assert money(value) == spoken


def test_summary_and_sentences():
    lead = LeadDraft(
        name="Giulia Bianchi",
        request_type="rent",
        property_type="villa",
        zone="Brera",
        budget_max=2000,
        phone="+393331234567",
    )
    text = summary(lead, caller_phone="+393331234567")
    assert text == (
        "Riepilogo: Giulia Bianchi, affitto di una villa in zona Brera, "
        "budget fino a 2000 euro al mese. È corretto?"
    )
    assert split_sentences(text)[-1] == "È corretto?"
    assert summary(LeadDraft()) == "Non ho ancora raccolto dati. È corretto?"


def test_factory_wraps_a_bare_provider_in_a_chain(tenant):
    tenant["settings"] = {"dialogue": {"llm_budget_s": 0.25}}
    d = make_dialogue(tenant, "+393331112222", True, llm=RulesProvider())
    assert isinstance(d, ReceptionistDialogue)
    assert isinstance(d.llm, FallbackChain) and d.llm.budget_s == 0.25
    chain = FallbackChain([], RulesProvider())
    assert make_dialogue(tenant, "", False, llm=chain).llm is chain
    assert make_dialogue(tenant, "", False).llm is None


def test_factory_rejects_bad_input(tenant):
    with pytest.raises(TypeError):
        make_dialogue("demo", "", True)  # type: ignore[arg-type]


def test_a_bad_setting_does_not_fail_the_call(tenant, caplog):
    # A stored confirm: "false" used to raise here, sending every call of the tenant
    # to the dialplan fallback: now the key's default is used and an ERROR names it.
    tenant["settings"] = {"dialogue": {"max_silences": "tre", "confirm": "false", "max_asks": 3}}
    with caplog.at_level(logging.ERROR, logger="agent.dialogue.engine"):
        d = make_dialogue(tenant, "", True)
    assert (d.settings.max_silences, d.settings.confirm, d.settings.max_asks) == (2, True, 3)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(messages) == 2
    assert "settings.dialogue.max_silences must be a whole number" in messages[0]
    assert "settings.dialogue.confirm must be true or false" in messages[1]
    tenant["settings"] = {"dialogue": "veloce"}
    assert make_dialogue(tenant, "", True).settings == DialogueSettings()


def test_settings_defaults():
    s = DialogueSettings.from_tenant({})
    assert (s.max_silences, s.llm_budget_s, s.confirm) == (2, 0.6, True)


async def test_clock_timestamps_the_transcript(tenant):
    now = [100.0]
    d = make_dialogue(tenant, "+393331112222", True, clock=lambda: now[0])
    await d.start()
    now[0] = 103.5
    from agent.dialogue.base import Utterance

    await d.handle(Utterance("Mario Rossi"))
    assert [t["t"] for t in d.result()["transcript"]] == [0.0, 3.5, 3.5]


@pytest.mark.parametrize(
    ("dialogue", "message"),
    [
        ({"confirm": "false"}, "confirm must be true or false"),  # bool("false") is True
        ({"confirm": 0}, "confirm must be true or false"),
        ({"max_confirm_rounds": "tre"}, "max_confirm_rounds must be a whole number"),
        ({"llm_budget_s": "veloce"}, "llm_budget_s must be a number"),
        ({"llm_budget_s": 0}, "llm_budget_s must be more than zero"),
        ({"llm_budget_s": -0.5}, "llm_budget_s must be more than zero"),
        ({"llm_budget_s": float("nan")}, "llm_budget_s must be a number"),
        ({"llm_budget_s": True}, "llm_budget_s must be a number"),  # True would be 1 s
        ({"max_asks": True}, "max_asks must be a whole number"),
        ({"max_asks": 2.5}, "max_asks must be a whole number"),
        ({"max_silences": 0}, "max_silences must be more than zero"),
    ],
)
def test_bad_dialogue_settings_name_the_key(dialogue: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DialogueSettings.from_tenant({"settings": {"dialogue": dialogue}}, strict=True)
    # At call time: the default, not an error.
    assert DialogueSettings.from_tenant({"settings": {"dialogue": dialogue}}) == DialogueSettings()
    ok = DialogueSettings.from_tenant(
        {"settings": {"dialogue": {"confirm": False, "llm_budget_s": "0.8", "max_asks": 3.0}}},
        strict=True,
    )
    assert (ok.confirm, ok.llm_budget_s, ok.max_asks) == (False, 0.8, 3)


def test_dialogue_settings_and_the_save_time_rules_agree() -> None:
    # The same keys and kinds: a knob added to one must be added to the other.
    kinds = {name: type(value) for name, value in DialogueSettings().__dict__.items()}
    assert kinds == DIALOGUE_SETTINGS
