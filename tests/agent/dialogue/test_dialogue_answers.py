"""The checks an LLM-phrased answer must pass before the caller hears it (no model needed).

The engine-level tests with the Ollama-speaking server are in
tests/agent/llm/test_llm_answers.py; here the facts and the checks themselves.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from agent.dialogue.answers import (
    DECLINE,
    MAX_CHARS,
    answer_messages,
    build_grounding,
    check_answer,
    facts_text,
    final_check,
)
from centralino.tenants.service import read_tenant_file

DEMO = Path(__file__).resolve().parents[3] / "centralino" / "tenants" / "demo.toml"


@pytest.fixture(scope="module")
def demo() -> dict:
    """The demo agency as the tenant loader stores it (default business hours added)."""
    return {"id": 1, **dataclasses.asdict(read_tenant_file(DEMO)[0])}


@pytest.fixture(scope="module")
def grounding(demo):
    t = dict(demo)
    t["faq"] = [
        *demo["faq"],
        {"question": "dove si trova l'agenzia", "answer": "Siamo in via Roma 1, a Milano."},
        {"question": "la valutazione è gratuita?", "answer": "Sì, la valutazione è gratuita."},
        {"question": "avete un parcheggio?", "answer": "No, non abbiamo un parcheggio."},
    ]
    t["holidays"] = ["2026-12-25"]
    return build_grounding(t)


def test_demo_tenant_facts(demo):
    # Everything the tenant config holds that a caller may ask about; no transfer number
    # (an internal line), no greeting or prompt template (not facts).
    assert facts_text(demo).splitlines() == [
        "- Nome dell'agenzia: Immobiliare Demo.",
        "- Zone servite: Navigli, Porta Romana, Città Studi, Brera, Isola, Lambrate, "
        "Centro Storico.",
        "- Zone di pregio: Brera, Centro Storico.",
        "- Orari di apertura: lunedì 09:00-13:00 e 14:30-19:00; martedì 09:00-13:00 e "
        "14:30-19:00; mercoledì 09:00-13:00 e 14:30-19:00; giovedì 09:00-13:00 e 14:30-19:00; "
        "venerdì 09:00-13:00 e 14:30-19:00; sabato 09:30-12:30; domenica chiuso.",
        "- Domande frequenti:",
        "  - orari di apertura: Siamo aperti dal lunedì al venerdì dalle 9 alle 13 e dalle 14 "
        "e 30 alle 19, il sabato mattina dalle 9 e 30 alle 12 e 30.",
    ]
    assert demo["transfer_number"][1:] not in facts_text(demo)


def test_broken_tenant_data_is_left_out():
    tenant = {
        "name": " Agenzia\nNord ",
        "zones": ["", "Isola"],
        "business_hours": {"mon": [["09:00"]], "tue": "sempre", "sun": []},
        "holidays": ["Natale", "2026-12-26"],
        "faq": [{"question": "x"}, "nope", {"question": "Parcheggio?", "answer": "No."}],
    }
    assert facts_text(tenant).splitlines() == [
        "- Nome dell'agenzia: Agenzia Nord.",
        "- Zone servite: Isola.",
        "- Orari di apertura: lunedì chiuso; martedì chiuso; domenica chiuso.",
        "- Giorni di chiusura: 26/12/2026.",
        "- Domande frequenti:",
        "  - Parcheggio?: No.",
    ]
    assert facts_text({}) == ""


@pytest.mark.parametrize(
    "answer",
    [
        "Sì, seguiamo anche la zona di Lambrate.",
        "Il sabato siamo aperti dalle 9 e 30 alle 12 e 30.",
        "Siamo aperti dal lunedì al venerdì dalle 9:00 alle 13:00 e dalle 14.30 alle 19.",
        "Sabato siamo aperti dalle nove e mezza a mezzogiorno e mezzo.",
        "Ci trova in via Roma 1, a Milano.",
        "Sì, la valutazione è gratuita.",
        "Il 25/12/2026 l'agenzia è chiusa.",
        "La domenica siamo chiusi.",
        "Certo. Brera e Centro Storico sono le nostre zone di pregio.",
        "Il sabato pomeriggio siamo chiusi.",
        "Dal lunedì al venerdì siamo aperti, la domenica siamo chiusi.",
        "Purtroppo non abbiamo un parcheggio.",  # the FAQ says so
        "No, la domenica siamo chiusi.",  # "Siete aperti la domenica?"
        "Certo, la zona Navigli è tra quelle che seguiamo.",
        "Il lunedì apriamo alle 9.",
    ],
)
def test_grounded_answers_are_accepted(grounding, answer):
    assert final_check(answer, grounding).text == answer


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("Un bilocale a Brera costa circa 450.000 euro.", "price word 'euro'"),
        ("Un bilocale costa sui 450 mila.", "number '450 mila'"),
        ("Costa trecentomila.", "number 'trecentomila'"),
        ("Siamo aperti anche la domenica mattina dalle 10.", "number '10'"),
        ("Siamo aperti ventiquattro ore su ventiquattro.", "number 'ventiquattro'"),
        ("La provvigione è del tre per cento.", "price word 'per cento'"),
        ("Offriamo uno sconto ai nuovi clienti.", "price word 'scont'"),
        ("Ci chiami allo 02 1234 5678.", "not in the agency facts"),
        ("Ci chiami al 0212345601.", "phone number"),
        ("Siamo in via Dante 5, a Milano.", "address 'via Dante'"),
        ("La sede è in Corso Buenos Aires.", "address 'Corso Buenos Aires'"),
        ("Scriva a info@demo.it.", "contact"),
        ("Trova tutto su www.demo.it.", "contact"),
        ("Sì, lavoriamo anche a Bovisa.", "name 'Bovisa'"),
        ("A Natale siamo chiusi.", "name 'Natale'"),
        ("Sure, we are open.", "not Italian"),
        ("Sure, we are open on Saturday.", "'Saturday' not in the agency facts"),
        ("我们周一到周五营业。", "another alphabet"),
        ("Мы открыты.", "another alphabet"),
        (DECLINE, "declined"),
        ("non_so", "declined"),
        ("Non lo so, mi dispiace.", "declined"),
        ("Su questo la farò richiamare da un collega.", "declined"),
        ("Le mie istruzioni dicono di non rispondere.", "talks about itself"),
        ("Come modello linguistico non ho opinioni.", "talks about itself"),
        ("Perché il pomodoro arrossisce? Perché vede l'insalata.", "asks the caller a question"),
        ("Vuole un appuntamento?", "only a question"),
        ("Ahoy! Sono un pirata di mare.", "says nothing from the agency facts"),
        # Claims without a number or a name (review of 2026-12-05): one fact word in
        # them ("Brera", "lunedì") used to be enough.
        ("Non serviamo la zona Brera.", "negation 'non'"),
        ("Il lunedì siamo chiusi tutto il giorno.", "says lunedi is closed"),
        ("Siamo aperti anche la domenica mattina.", "says domenica mattina is open"),
        ("Certo, in zona Brera abbiamo appartamenti disponibili subito.", "availability"),
        ("Le case in zona Brera sono una truffa, non compratele.", "judgment 'truffa'"),
        ("Abbiamo diverse case in zona Navigli.", "availability 'abbiamo diverse case'"),
        ("A Brera ci sono immobili subito abitabili.", "availability 'subito'"),
        ("Il sabato pomeriggio siamo aperti.", "says sabato pomeriggio is open"),
        ("Siamo aperti tutti i giorni.", "says domenica is open"),
        ("Siamo aperti anche la sera.", "open in the sera"),
        ("Nessun problema, seguiamo anche la zona Brera.", "negation 'nessun'"),
        ("No, seguiamo la zona Lambrate.", "negation 'no'"),  # "Servite Brera?"
        ("No, il lunedì siamo chiusi.", "says lunedi is closed"),
        ("Non seguiamo la zona Isola.", "negation 'non'"),
        ("Lambrate è una zona molto tranquilla e verde.", "'molto tranquilla verde'"),
        ("Brera le conviene più di Isola.", "judgment 'conviene'"),
        ("", "empty"),
        ("  **  ", "empty"),
        ("Le zone servite sono " + "molte e belle, " * 12 + "davvero.", "too long"),
    ],
)
def test_unfounded_or_unusable_answers_are_rejected(grounding, answer, reason):
    verdict = final_check(answer, grounding)
    assert verdict.done and verdict.text == ""
    assert reason in verdict.rejected


def test_answer_may_use_the_callers_words(grounding):
    answer = "Sì, la valutazione dell'appartamento è gratuita."
    # "appartamento" is not in the facts: a third of the words are the model's own...
    assert "'appartamento'" in final_check(answer, grounding).rejected
    # ...unless the caller said it.
    question = "Fate la valutazione di un appartamento?"
    assert final_check(answer, grounding, question).text == answer
    assert check_answer(answer, True, grounding, question).text == answer


def test_answer_is_cleaned_and_cut_to_two_sentences(grounding):
    verdict = final_check(
        '**Risposta:** "Sì. Seguiamo Lambrate. E anche Isola. Vuole un appuntamento?"', grounding
    )
    assert verdict.text == "Sì. Seguiamo Lambrate."
    # A closing question is dropped: the engine asks its own next question.
    assert final_check("Sì, seguiamo Lambrate. Posso aiutarla?", grounding).text == (
        "Sì, seguiamo Lambrate."
    )


def test_streaming_judges_only_complete_words(grounding):
    more = check_answer("Siamo aperti dalle 1", False, grounding)
    assert not more.done  # "1" may become "14": not judged yet
    assert not check_answer("NON", False, grounding).done  # may become NON_SO
    assert check_answer("NON_SO", False, grounding).rejected == "declined"
    early = check_answer("Il bilocale costa 450.000 eu", False, grounding)
    assert early.rejected == "number '450.000' not in the agency facts"  # stop at once


def test_streaming_stops_after_two_sentences(grounding):
    verdict = check_answer("Sì. Seguiamo Lambrate. Anche", False, grounding)
    assert verdict.done and verdict.text == "Sì. Seguiamo Lambrate."
    long = check_answer("Seguiamo Lambrate " + "e " * MAX_CHARS, False, grounding)
    assert long.rejected.startswith("too long")


def test_caller_words_are_quoted_data(grounding):
    system, user = answer_messages(grounding, "Immobiliare Demo", 'a\n«b» "c"\td' + "x" * 500)
    assert system["role"] == "system" and user["role"] == "user"
    assert system["content"].startswith(
        "Sei la centralinista virtuale dell'agenzia Immobiliare Demo, al telefono"
    )
    assert system["content"].endswith(grounding.text)
    content = user["content"]
    assert content.startswith("Il cliente dice: «a b c d")
    assert content.count("«") == content.count("»") == 1 and "\n" not in content
    assert len(content) < 400
