from __future__ import annotations

import pytest

from agent.extraction import EXTRACTION_SCHEMA, Extractor, Intent
from agent.extraction.intents import detect
from agent.extraction.text import fold
from agent.llm.schema import validate

ZONES = ["Navigli", "Porta Romana", "Città Studi", "Brera", "Isola", "Lambrate", "Centro Storico"]


@pytest.fixture(scope="module")
def ex() -> Extractor:
    return Extractor(ZONES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Sono Mario Rossi, cerco un trilocale ai Navigli sui 400 mila",
            {
                "name": "Mario Rossi",
                "request_type": "buy",
                "property_type": "trilocale",
                "zone": "Navigli",
                "budget_max": 400_000,
            },
        ),
        (
            "Buongiorno, mi chiamo Giulia Bianchi, vorrei vendere una villa a Brera, è urgente",
            {
                "name": "Giulia Bianchi",
                "request_type": "sell",
                "property_type": "villa",
                "zone": "Brera",
                "urgency": "high",
                "timing": "urgente",
            },
        ),
        (
            "cerco un bilocale in affitto zona citta studi massimo 900 euro al mese",
            {
                "request_type": "rent",
                "property_type": "bilocale",
                "zone": "Città Studi",
                "budget_max": 900,
            },
        ),
        (
            "Vorrei acquistare un attico in centro storico tra 1 e 1,5 milioni, non ho fretta",
            {
                "request_type": "buy",
                "property_type": "attico",
                "zone": "Centro Storico",
                "budget_min": 1_000_000,
                "budget_max": 1_500_000,
                "urgency": "low",
                "timing": "non ho fretta",
            },
        ),
        # Timing in the caller's words next to a misheard zone (issue 3).
        (
            "Sono Chiara Ferri e cerco un bilocale a Breda, massimo 320 mila, nei prossimi tre "
            "mesi.",
            {
                "name": "Chiara Ferri",
                "request_type": "buy",
                "property_type": "bilocale",
                "zone": "Brera",
                "budget_max": 320_000,
                "urgency": "medium",
                "timing": "nei prossimi tre mesi",
            },
        ),
        (
            "Ho un trilocale a Porta Romana da dare in affitto entro l'estate a circa 1.800 euro "
            "al mese",
            {
                "request_type": "rent_out",
                "property_type": "trilocale",
                "zone": "Porta Romana",
                "budget_max": 1800,
                "urgency": "medium",
                "timing": "entro l'estate",
            },
        ),
        (
            "Salve, sono Luca Verdi, ho un trilocale all'Isola da affittare, richiamatemi domani "
            "mattina",
            {
                "name": "Luca Verdi",
                "request_type": "rent_out",
                "property_type": "trilocale",
                "zone": "Isola",
                "callback_time": "domani mattina",
            },
        ),
        (
            "Vorrei una valutazione del mio quadrilocale a Lambrate",
            {"request_type": "valuation", "property_type": "quadrilocale", "zone": "Lambrate"},
        ),
        # Whisper style: digits with dots, capitalised, punctuated.
        (
            "Cerco un appartamento a Porta Romana. Budget 300.000 euro.",
            {
                "request_type": "buy",
                "property_type": "appartamento",
                "zone": "Porta Romana",
                "budget_max": 300_000,
            },
        ),
        (
            "duecento cinquanta mila, zona navili",
            {"zone": "Navigli", "budget_max": 250_000},
        ),
    ],
)
def test_several_fields_in_one_sentence(ex, text, expected):
    result = ex.extract(text)
    assert result.fields == expected
    assert set(result.confidence) == set(expected)
    assert all(0 < c <= 1 for c in result.confidence.values())


def test_expecting_makes_bare_answers_count(ex):
    assert ex.extract("Mario Rossi").fields == {}
    assert ex.extract("Mario Rossi", expecting="name").fields == {"name": "Mario Rossi"}
    assert ex.extract("sui 400", expecting="budget").fields == {"budget_max": 400_000}
    assert ex.extract("domani mattina").fields == {}
    assert ex.extract("domani mattina", expecting="callback_time").fields == {
        "callback_time": "domani mattina"
    }


def test_stt_confidence_scales_field_confidence(ex):
    sure = ex.extract("un trilocale ai Navigli", confidence=1.0)
    unsure = ex.extract("un trilocale ai Navigli", confidence=0.3)
    assert unsure.confidence["zone"] < sure.confidence["zone"]


def test_unlisted_zone_is_noted(ex):
    result = ex.extract("cerco in zona Bovisa")
    assert result.fields["zone"] == "Bovisa"
    assert result.notes == ["Zona richiesta non in elenco: Bovisa"]


def test_as_json_matches_llm_schema(ex):
    data = ex.extract("Sono Mario Rossi, cerco un trilocale ai Navigli").as_json()
    assert validate(data, EXTRACTION_SCHEMA) == []


@pytest.mark.parametrize("text", ["", "   ", "...", "ehm", "123", "?!"])
def test_garbage_is_harmless(ex, text):
    assert ex.extract(text).fields == {}


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("sì", Intent.YES),
        ("Sì, esatto", Intent.YES),
        ("certo", Intent.YES),
        ("va bene", Intent.YES),
        ("è corretto", Intent.YES),
        ("no", Intent.NO),
        ("No, il budget è 300 mila", Intent.NO),
        ("non è corretto", Intent.NO),
        ("può ripetere?", Intent.REPEAT),
        ("come scusi?", Intent.REPEAT),
        ("non ho capito", Intent.REPEAT),
        ("mi passi un operatore", Intent.TRANSFER),
        ("vorrei parlare con una persona", Intent.TRANSFER),
        ("posso parlare con un agente?", Intent.TRANSFER),
        ("arrivederci", Intent.GOODBYE),
        ("grazie, buona giornata", Intent.GOODBYE),
        ("non lo so", Intent.DONT_KNOW),
        ("è indifferente", Intent.DONT_KNOW),
        ("a che ora aprite?", Intent.QUESTION),
        ("Dove siete", Intent.QUESTION),
        ("quanto prendete di provvigione", Intent.QUESTION),
    ],
)
def test_intents(text, intent):
    assert intent in detect(fold(text))


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("sono di Milano", Intent.YES),
        ("Sì, ma il budget è 300 mila", Intent.NO),
        ("vorrei vendere", Intent.QUESTION),
        ("nono piano", Intent.NO),
        ("grazie", Intent.GOODBYE),
        # A caller checking the line is not asking anything (it would be noted as an
        # unanswered question and turn a silent call into a lead).
        ("Pronto? Pronto?", Intent.QUESTION),
        ("Pronto, mi sente?", Intent.QUESTION),
        ("C'è qualcuno?", Intent.QUESTION),
    ],
)
def test_intents_not_detected(text, intent):
    assert intent not in detect(fold(text))


@pytest.mark.parametrize(
    ("text", "expecting", "expected"),
    [
        ("trecento e cinquanta mila", "budget", {"budget_max": 350_000}),
        ("diciamo 350, massimo 380", "budget", {"budget_max": 380_000}),
        ("un 400 mila euro", None, {"budget_max": 400_000}),
        ("sui 400/450 mila", None, {"budget_min": 400_000, "budget_max": 450_000}),
        ("400-450 mila", None, {"budget_min": 400_000, "budget_max": 450_000}),
        (
            "vorrei vedere il trilocale di via Savona",
            None,
            {"property_type": "trilocale", "zone": "Via Savona"},
        ),
        ("abito a Porta Romana ma cerco a Isola", None, {"request_type": "buy", "zone": "Isola"}),
        ("non a Brera, preferisco Isola", None, {"zone": "Isola"}),
        ("sì sono io, Marco Bianchi", "name", {"name": "Marco Bianchi"}),
        (
            "Mario Rossi, cerco un bilocale",
            "name",
            {"name": "Mario Rossi", "request_type": "buy", "property_type": "bilocale"},
        ),
        ("ok grazie, arrivederci", "name", {}),
        ("zona Brera, una villa", "name", {"zone": "Brera", "property_type": "villa"}),
        ("appena possibile", None, {"urgency": "high", "timing": "appena possibile"}),
        ("dopo pranzo", "callback_time", {"callback_time": "dopo pranzo"}),
    ],
)
def test_harder_phrasings(ex, text, expecting, expected):
    assert ex.extract(text, expecting=expecting).fields == expected
