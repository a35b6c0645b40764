from __future__ import annotations

import pytest

from agent.extraction import fields as f
from agent.extraction.extractor import Extractor
from agent.extraction.names import extract_name
from agent.extraction.text import fold


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("cerco un monolocale", "monolocale"),
        ("un bilocale", "bilocale"),
        ("Trilocale", "trilocale"),
        ("quadrilocale con terrazzo", "quadrilocale"),
        ("un appartamento", "appartamento"),
        ("una villa con giardino", "villa"),
        ("una villetta a schiera", "villetta"),
        ("un attico", "attico"),
        ("un loft", "loft"),
        ("una casa indipendente", "casa indipendente"),
        ("un ufficio in centro", "ufficio"),
        ("un negozio", "negozio"),
        ("un box auto", "box"),
        ("un garage", "box"),
        ("un terreno edificabile", "terreno"),
        ("una mansarda", "mansarda"),
        ("tre locali", "trilocale"),
        ("2 locali", "bilocale"),
        ("un trilocal", "trilocale"),  # truncated by STT
        ("bilocalle", "bilocale"),  # typo
    ],
)
def test_property_type(text, value):
    found = f.property_type(fold(text))
    assert found is not None and found[0] == value


@pytest.mark.parametrize("text", ["cerco casa", "buongiorno", "zona Città Studi", "sono Mario"])
def test_no_property_type(text):
    assert f.property_type(fold(text)) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("vorrei comprare casa", "buy"),
        ("voglio acquistare un bilocale", "buy"),
        ("cerco casa", "buy"),
        ("sto cercando un trilocale", "buy"),
        ("vorrei vendere il mio appartamento", "sell"),
        ("devo vendere casa", "sell"),
        ("vorrei metterla in vendita", "sell"),
        ("cerco casa in affitto", "rent"),
        ("vorrei prendere in affitto un bilocale", "rent"),
        ("cerco un monolocale in locazione", "rent"),
        ("vorrei affittare il mio appartamento", "rent_out"),
        ("ho un bilocale da affittare", "rent_out"),
        ("vorrei dare in affitto la mia casa", "rent_out"),
        ("vorrei una valutazione", "valuation"),
        ("quanto vale la mia casa?", "valuation"),
        ("mi servirebbe una stima dell'immobile", "valuation"),
    ],
)
def test_request_type(text, value):
    found = f.request_type(fold(text))
    assert found is not None and found[0] == value


@pytest.mark.parametrize(
    ("text", "value"), [("acquistare", "buy"), ("vendere", "sell"), ("acquisto", "buy")]
)
def test_request_type_bare_answers(text, value):
    found = f.request_type(fold(text), expecting=True)
    assert found is not None and found[0] == value


def test_landlord_and_tenant_are_distinguishable():
    landlord = f.request_type(fold("vorrei affittare il mio appartamento"))
    tenant = f.request_type(fold("cerco un appartamento in affitto"))
    assert landlord and tenant and landlord[0] != tenant[0]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("è urgente", "high"),
        ("mi serve subito", "high"),
        ("immediato", "high"),
        ("entro un mese", "high"),
        ("il prima possibile", "high"),
        ("entro due settimane", "high"),
        ("nei prossimi mesi", "medium"),
        ("entro sei mesi", "medium"),
        ("tra qualche mese", "medium"),
        ("entro 3 mesi", "medium"),
        ("non ho fretta", "low"),
        ("sto solo guardando", "low"),
        ("con calma", "low"),
        ("il prossimo anno", "low"),
        ("nessuna fretta", "low"),
    ],
)
def test_urgency(text, value):
    found = f.urgency(fold(text))
    assert found is not None and found[0] == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("domani mattina", "domani mattina"),
        ("dopo le 18", "dopo le 18"),
        ("nel pomeriggio", "nel pomeriggio"),
        ("in mattinata", "in mattinata"),
        ("lunedì pomeriggio", "lunedì pomeriggio"),
        ("domani dopo le sei", "domani dopo le 18"),
        ("verso le 17.30", "verso le 17:30"),
        ("dalle 9 alle 12", "dalle 9 alle 12"),
        ("la sera", "la sera"),
        ("quando volete", "qualsiasi orario"),
    ],
)
def test_callback_time(text, value):
    found = f.callback_time(fold(text), expecting=True)
    assert found is not None and found[0] == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("il mio numero è 333 123 4567", "+393331234567"),
        ("tre tre tre, uno due tre, quattro cinque sei sette", "+393331234567"),
        ("+39 02 1234 5678", "+390212345678"),
        ("zero due, uno due tre quattro cinque sei sette otto", "+390212345678"),
    ],
)
def test_phone_number(text, value):
    found = f.phone_number(text, expecting=True)
    assert found is not None and found[0] == value


def test_phone_needs_context_or_question():
    assert f.phone_number("333 123 4567") is None
    assert f.phone_number("mi richiami al numero 3331234567") == ("+393331234567", 0.8)
    assert f.phone_number("tre tre", expecting=True) is None


@pytest.mark.parametrize(
    ("text", "expecting", "name"),
    [
        ("mi chiamo Mario Rossi", False, "Mario Rossi"),
        ("Buongiorno, Michiamo Mario Rossi.", False, "Mario Rossi"),
        ("Mi chiamo mario rossi", False, "Mario Rossi"),
        ("Sono Giulia Bianchi", False, "Giulia Bianchi"),
        ("sono giulia bianchi", False, "Giulia Bianchi"),
        ("Buongiorno, sono Luca Verdi e vorrei vendere", False, "Luca Verdi"),
        ("il mio nome è Anna Neri", False, "Anna Neri"),
        ("Sono il signor Ferrari", False, "Ferrari"),
        ("Mario Rossi", True, "Mario Rossi"),
        ("Rossi Mario", True, "Mario Rossi"),
        ("allora, Paolo Esposito", True, "Paolo Esposito"),
        ("mi chiamo Marco De Luca", False, "Marco De Luca"),
        ("Sono Chiara D'Angelo", False, "Chiara D'Angelo"),
        ("Sono Tiziano Moretti", False, "Tiziano Moretti"),
    ],
)
def test_names(text, expecting, name):
    found = extract_name(text, expecting=expecting)
    assert found is not None and found[0] == name


@pytest.mark.parametrize(
    "text",
    [
        "sono interessato a un bilocale",
        "sono di Milano",
        "sono io",
        "Sono molto interessata",
        "Mario Rossi",  # bare words: only a name when the name was asked
        "cerco un trilocale",
    ],
)
def test_not_names(text):
    assert extract_name(text) is None


def test_bare_answer_with_more_words_is_not_a_name():
    assert extract_name("cerco un trilocale ai Navigli", expecting=True) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("un tri locale", "trilocale"), ("bi locale", "bilocale"), ("due locali", "bilocale")],
)
def test_property_type_split_by_stt(text, value):
    found = f.property_type(fold(text))
    assert found is not None and found[0] == value


def test_locale_alone_is_not_a_type():
    assert f.property_type(fold("un locale commerciale")) == ("negozio", 0.95)
    assert f.property_type(fold("il locale")) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("dopo le sei di sera", "dopo le 18"),
        ("domattina", "domani mattina"),
        ("in pausa pranzo", "all'ora di pranzo"),
        ("stasera", "stasera"),
    ],
)
def test_callback_time_more(text, value):
    found = f.callback_time(fold(text), expecting=True)
    assert found is not None and found[0] == value


def test_more_landlord_and_urgency_phrases():
    assert f.request_type(fold("vorrei darlo in affitto")) == ("rent_out", 0.9)
    assert f.urgency(fold("entro la fine dell'anno")) == ("medium", 0.85)


# --- timing phrases: the product's urgency level plus the caller's words (issue 3) ---


@pytest.mark.parametrize(
    ("text", "urgency", "timing"),
    [
        # within about a month (or as soon as possible): high
        ("Il prima possibile.", "high", "il prima possibile"),
        ("ci servirebbe nelle prossime settimane", "high", "nelle prossime settimane"),
        ("nel giro di qualche settimana", "high", "nel giro di qualche settimana"),
        ("entro la fine del mese", "high", "entro la fine del mese"),
        ("il mese prossimo dobbiamo lasciare casa", "high", "il mese prossimo"),
        ("tra due settimane", "high", "tra due settimane"),
        ("è urgentissimo", "high", "urgentissimo"),
        # within about six months: medium
        ("nei prossimi tre mesi", "medium", "nei prossimi tre mesi"),
        ("Entro l'estate.", "medium", "entro l'estate"),
        ("entro l’estate", "medium", "entro l'estate"),  # Whisper's apostrophe
        ("tra sei mesi", "medium", "tra sei mesi"),
        ("fra 6 mesi", "medium", "fra 6 mesi"),
        ("Entro fine anno, quando nasce il bambino.", "medium", "entro fine anno"),
        ("entro la fine dell'anno", "medium", "entro la fine dell'anno"),
        ("tra un paio di mesi", "medium", "tra un paio di mesi"),
        ("entro un mese e mezzo", "medium", "entro un mese e mezzo"),
        ("ci serve per settembre", "medium", "per settembre"),
        ("prima dell'estate", "medium", "prima dell'estate"),
        ("entro Natale", "medium", "entro Natale"),
        # "da settembre" alone may be the past ("in affitto da settembre"): the horizon
        ("Da settembre, quindi nei prossimi mesi.", "medium", "nei prossimi mesi"),
        # later, or no hurry: low
        ("Non ho fretta, prima devo trovare un'altra casa.", "low", "non ho fretta"),
        ("non abbiamo nessuna fretta", "low", "non abbiamo nessuna fretta"),
        ("non c'è fretta", "low", "non c'è fretta"),
        ("l'anno prossimo", "low", "l'anno prossimo"),
        ("tra un anno o due", "low", "tra un anno"),
        ("entro due anni", "low", "entro due anni"),
        ("non subito", "low", "non subito"),
        ("stiamo solo valutando", "low", "solo valutando"),
        # a horizon says more than a vague word, and decides
        ("non subito, tra qualche mese", "medium", "tra qualche mese"),
        ("Il prima possibile, inizio a lavorare il mese prossimo.", "high", "il prima possibile"),
    ],
)
def test_timing_phrases_map_to_urgency_and_keep_the_words(text, urgency, timing):
    fields = Extractor(["Brera"]).extract(text).fields
    assert (fields.get("urgency"), fields.get("timing")) == (urgency, timing)
    assert f.urgency(fold(text)) is not None and f.urgency(fold(text))[0] == urgency


@pytest.mark.parametrize(
    ("text", "expecting"),
    [
        ("mi richiami tra una settimana", None),  # when to call, not how urgent
        ("La settimana prossima.", "callback_time"),
        ("mia madre è mancata a settembre", None),  # the past
        ("sono in affitto da tre anni", None),
        ("ho comprato casa tre anni fa", None),
        ("tra 300 e 350 mila", "budget"),
        ("entro le 18", "callback_time"),
        ("nei mesi scorsi ho visto molte case", None),
    ],
)
def test_times_that_are_not_the_callers_timing(text, expecting):
    fields = Extractor(["Brera"]).extract(text, expecting=expecting).fields
    assert "urgency" not in fields and "timing" not in fields


@pytest.mark.parametrize(
    ("text", "urgency", "timing"),
    [("A settembre.", "medium", "a settembre"), ("Ho tempo.", "low", "ho tempo")],
)
def test_bare_answers_to_the_urgency_question(text, urgency, timing):
    assert Extractor([]).extract(text).fields.get("urgency") is None
    fields = Extractor([]).extract(text, expecting="urgency").fields
    assert (fields["urgency"], fields["timing"]) == (urgency, timing)


def test_a_zone_named_studio_is_not_a_studio_flat():
    assert f.property_type(fold("cerchiamo un trilocale in zona Città Studio")) == (
        "trilocale",
        0.95,
    )
    assert f.property_type(fold("zona citta studi")) is None
    assert f.property_type(fold("uno studio legale")) == ("ufficio", 0.95)
    assert f.property_type(fold("cerco uno studio")) == ("monolocale", 0.95)


def test_stiamo_cercando_is_a_purchase():
    assert f.request_type(fold("stiamo cercando un attico ai Navigli")) == ("buy", 0.7)


# --- review of 2026-12-05: negation scope, the past, "entro domani" ----------------


@pytest.mark.parametrize(
    ("text", "timing"),
    [
        # "non" belongs to "so"; what follows the comma is urgent.
        ("Non lo so, è urgente.", "urgente"),
        ("Non posso aspettare, è urgente", "non posso aspettare"),
        # Not being able to wait is urgent, with or without the ASR's comma.
        ("non posso aspettare è urgente", "non posso aspettare"),
        ("Non possiamo aspettare.", "non possiamo aspettare"),
    ],
)
def test_a_negation_stops_at_punctuation(text, timing):
    fields = Extractor([]).extract(text).fields
    assert (fields.get("urgency"), fields.get("timing")) == ("high", timing)


def test_a_negation_still_reaches_its_word_within_the_clause():
    assert f.urgency(fold("non ho davvero nessuna fretta")) == ("low", 0.9)
    assert f.urgency(fold("non ho nessuna fretta, posso aspettare")) == ("low", 0.9)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("siamo in affitto da settembre e adesso vorremmo comprare un trilocale", "buy"),
        ("sono già in affitto ma cerco casa da comprare", "buy"),
        ("stiamo cercando in affitto", "rent"),
        ("cerco un bilocale in affitto", "rent"),
    ],
)
def test_renting_now_is_not_the_request(text, value):
    found = f.request_type(fold(text))
    assert found is not None and found[0] == value
    assert f.request_type(fold("sono in affitto")) is None  # where they live, nothing more


@pytest.mark.parametrize(
    "text",
    [
        "siamo in affitto da settembre",
        "dall'estate scorsa cerchiamo casa",
        "prima dell'estate scorsa",
        "l'ho comprata a Natale",
        "ci siamo trasferiti dal settembre passato",
    ],
)
def test_past_times_are_not_a_timing(text):
    fields = Extractor(["Brera"]).extract(text).fields
    assert "urgency" not in fields and "timing" not in fields, fields
    assert f.timing(fold(text)) is None


@pytest.mark.parametrize(
    "text", ["dall'estate scorsa", "prima dell'estate scorsa", "a settembre dell'anno passato"]
)
def test_a_past_time_is_no_answer_to_the_urgency_question_either(text):
    fields = Extractor([]).extract(text, expecting="urgency").fields
    assert "urgency" not in fields and "timing" not in fields, fields


@pytest.mark.parametrize(
    ("text", "urgency", "timing"),
    [
        ("entro domani", "high", "entro domani"),
        ("mi serve una risposta entro lunedì", "high", "entro lunedì"),
        ("a partire da settembre", "medium", "a partire da settembre"),
        ("per l'estate prossima", "medium", "per l'estate prossima"),
    ],
)
def test_more_forward_times(text, urgency, timing):
    fields = Extractor([]).extract(text).fields
    assert (fields.get("urgency"), fields.get("timing")) == (urgency, timing)


@pytest.mark.parametrize(
    ("text", "timing"),
    [("Da settembre.", "da settembre"), ("A Natale.", "a Natale"), ("Dall'estate.", "dall'estate")],
)
def test_da_and_a_count_only_as_the_answer_to_the_urgency_question(text, timing):
    assert "urgency" not in Extractor([]).extract(text).fields
    fields = Extractor([]).extract(text, expecting="urgency").fields
    assert (fields.get("urgency"), fields.get("timing")) == ("medium", timing)


@pytest.mark.parametrize(
    ("text", "urgency", "timing"),
    [
        # "mi chiamo" gives the caller's name, "vi chiamo" is this call: no call-back.
        ("Mi chiamo Anna Rossi e mi serve entro un mese", "high", "entro un mese"),
        (
            "Buongiorno, mi chiamo Luca Gatti, entro l'estate vorrei comprare",
            "medium",
            "entro l'estate",
        ),
        ("Vi chiamo perché devo vendere entro l'estate", "medium", "entro l'estate"),
    ],
)
def test_saying_ones_name_is_not_asking_for_a_call_back(text, urgency, timing):
    fields = Extractor([]).extract(text).fields
    assert (fields.get("urgency"), fields.get("timing")) == (urgency, timing)


@pytest.mark.parametrize(
    "text",
    ["mi chiami tra una settimana", "mi chiama tra una settimana?", "vi richiamo tra un mese"],
)
def test_a_call_back_time_is_still_not_urgency(text):
    fields = Extractor([]).extract(text).fields
    assert "urgency" not in fields and "timing" not in fields, fields
