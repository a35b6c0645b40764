"""Scripted multi-turn Italian calls (text) through the real engine, ending with exact leads."""

from __future__ import annotations

import pytest

from agent.dialogue.base import Action, Utterance
from agent.dialogue.phrases import OFF_TOPIC
from agent.dialogue.state import State

CALLER = "+393331112222"  # the caller id the conftest's `call` fixture uses


def lead_fields(result: dict) -> dict:
    lead = dict(result["lead"])
    lead.pop("confidence")
    lead.pop("notes")
    return lead


async def test_full_call_one_field_per_turn(call):
    c = await call()
    assert c.replies[0].sentences[0] == "Buongiorno, ha chiamato Immobiliare Demo."
    final = await c.script(
        [
            "Buongiorno, vorrei comprare casa",
            "Mario Rossi",
            "ai Navigli",
            "un trilocale",
            "sui 400 mila",
            "entro un mese",
            "domani mattina",
        ]
    )
    assert final.sentences[1].startswith("Riepilogo: Mario Rossi, acquisto di un trilocale")
    assert final.sentences[-1] == "È corretto?"
    bye = await c.say("sì, è corretto")
    assert bye.action == Action.HANGUP
    assert "domani mattina" in bye.text
    result = c.d.result()
    assert result["outcome"] == "lead"
    assert result["confirmed"] is True
    assert result["missing"] == []
    assert lead_fields(result) == {
        "name": "Mario Rossi",
        "phone": CALLER,
        "request_type": "buy",
        "property_type": "trilocale",
        "zone": "Navigli",
        "budget_min": None,
        "budget_max": 400_000,
        "urgency": "high",
        "timing": "entro un mese",
        "callback_time": "domani mattina",
    }
    assert all(c >= 0.95 for c in result["lead"]["confidence"].values())
    speakers = [t["speaker"] for t in result["transcript"]]
    assert speakers == ["agent"] + ["caller", "agent"] * 8


async def test_everything_at_once_skips_known_questions(call):
    c = await call()
    reply = await c.say("Sono Mario Rossi, cerco un trilocale ai Navigli sui 400 mila")
    # Name, request, zone, type and budget are known: next is the urgency.
    assert reply.sentences == ["Piacere, Mario.", "Entro quando le servirebbe?"]
    await c.script(["non ho fretta", "nel pomeriggio"])
    assert c.d.state == State.CONFIRMING
    await c.say("sì")
    assert lead_fields(c.d.result()) == {
        "name": "Mario Rossi",
        "phone": CALLER,
        "request_type": "buy",
        "property_type": "trilocale",
        "zone": "Navigli",
        "budget_min": None,
        "budget_max": 400_000,
        "urgency": "low",
        "timing": "non ho fretta",
        "callback_time": "nel pomeriggio",
    }


async def test_answers_in_any_order(call):
    c = await call()
    await c.script(
        [
            "Buongiorno",  # nothing useful: the first question follows
            "zona Brera, una villa",  # answers to later questions first
            "Giulia Bianchi",
            "vorrei vendere",
            "un milione e mezzo",
            "nei prossimi mesi",
            "dopo le 18",
        ]
    )
    await c.say("esatto")
    lead = lead_fields(c.d.result())
    assert lead == {
        "name": "Giulia Bianchi",
        "phone": CALLER,
        "request_type": "sell",
        "property_type": "villa",
        "zone": "Brera",
        "budget_min": None,
        "budget_max": 1_500_000,
        "urgency": "medium",
        "timing": "nei prossimi mesi",
        "callback_time": "dopo le 18",
    }


async def test_seller_questions_are_worded_for_a_seller(call):
    c = await call()
    reply = await c.say("Sono Giulia Bianchi e vorrei vendere il mio appartamento")
    assert reply.sentences[-1] == "In quale zona si trova l'immobile?"
    reply = await c.say("Isola")
    # "Appartamento" is generic: the agent asks the rooms once.
    assert reply.sentences[-1] == "Quanti locali ha l'appartamento?"
    reply = await c.say("tre locali")
    assert c.d.lead.property_type == "trilocale"
    assert reply.sentences[-1] == "Ha in mente un prezzo indicativo?"


async def test_valuation_does_not_ask_a_budget(call):
    c = await call()
    await c.script(["Vorrei una valutazione del mio bilocale a Lambrate", "Anna Neri"])
    assert "budget" not in c.d.result()["missing"] or c.d.lead.request_type == "valuation"
    texts = " ".join(r.text for r in c.replies)
    assert "budget" not in texts and "prezzo" not in texts


async def test_correction_at_confirmation(call):
    c = await call()
    await c.script(
        [
            "Sono Mario Rossi, cerco un trilocale ai Navigli sui 400 mila",
            "entro un mese",
            "domani mattina",
        ]
    )
    reply = await c.say("no, il budget è 300 mila")
    assert reply.sentences[0] == "Ho corretto."
    assert "fino a 300 mila euro" in reply.text
    assert c.d.state == State.CONFIRMING
    bye = await c.say("sì")
    assert bye.action == Action.HANGUP
    assert c.d.lead.budget_max == 300_000 and c.d.lead.budget_min is None


async def test_no_then_correction(call):
    c = await call()
    await c.script(
        ["Sono Mario Rossi, cerco un bilocale ai Navigli, massimo 300 mila", "subito", "la sera"]
    )
    reply = await c.say("no")
    assert reply.sentences == ["Mi scusi. Cosa devo correggere?"]
    reply = await c.say("la zona è Isola")
    assert "in zona Isola" in reply.text
    await c.say("sì")
    assert c.d.lead.zone == "Isola"
    assert c.d.result()["confirmed"]


async def test_correction_while_collecting(call):
    c = await call()
    await c.script(["Sono Luca Verdi, cerco un attico a Brera sui 900 mila"])
    await c.say("anzi, il budget è di un milione e due")
    assert c.d.lead.budget_max == 1_200_000


async def test_range_budget_in_summary(call):
    c = await call()
    reply = await c.script(
        [
            "Sono Anna Neri, cerco un bilocale a Isola tra 200 e 250 mila",
            "nei prossimi mesi",
            "in mattinata",
        ]
    )
    assert "budget tra 200 mila euro e 250 mila euro" in reply.text
    assert (c.d.lead.budget_min, c.d.lead.budget_max) == (200_000, 250_000)


async def test_rent_tenant_vs_landlord(call):
    tenant_call = await call()
    await tenant_call.say("Sono Paolo Galli, cerco un bilocale in affitto a Lambrate")
    landlord = await call()
    await landlord.say("Sono Paolo Galli, vorrei affittare il mio bilocale a Lambrate")
    assert tenant_call.d.lead.request_type == "rent"
    assert landlord.d.lead.request_type == "rent_out"
    reply = await tenant_call.say("massimo 900 euro al mese")
    assert tenant_call.d.lead.budget_max == 900
    assert reply.action == Action.CONTINUE


async def test_repeat_last_question(call):
    c = await call()
    q = await c.say("vorrei comprare casa")
    again = await c.say("può ripetere?")
    assert again.sentences == ["Certo.", *q.sentences[1:]]
    assert c.d.pending == "name"


async def test_not_understood_then_moves_on(call):
    c = await call()
    await c.say("Sono Mario Rossi, vorrei comprare un bilocale")
    first = await c.say("blu")  # zone question: not understood
    assert first.sentences[0] == "Mi scusi, non ho capito bene."
    assert first.sentences[-1] == "In quale zona?"
    second = await c.say("verde")  # asked twice: move on, keep the words in the notes
    assert second.sentences[-1] != "In quale zona?"
    assert "Risposta non compresa (zone): verde" in c.d.lead.notes
    assert "zone" in c.d.result()["missing"]


async def test_dont_know_skips_an_optional_question(call):
    c = await call()
    await c.script(["Sono Mario Rossi, cerco un trilocale ai Navigli", "non saprei"])
    assert c.d.pending == "urgency"  # budget skipped


async def test_silence_reprompts_once_then_closes(call):
    c = await call()
    q = await c.say("vorrei comprare casa")
    r1 = await c.say("", kind="silence")
    assert r1.sentences == ["Mi sente?", *q.sentences[1:]]
    assert r1.action == Action.CONTINUE
    r2 = await c.say("", kind="silence")
    assert r2.action == Action.HANGUP
    assert r2.text.startswith("Non la sento più.")
    result = c.d.result()
    assert result["outcome"] == "lead"  # the request type was given: nothing is lost
    assert "Chiamata chiusa per silenzio" in result["lead"]["notes"]


async def test_silence_resets_after_speech(call):
    c = await call()
    await c.say("", kind="silence")
    await c.say("vorrei comprare casa")
    r = await c.say("", kind="silence")
    assert r.action == Action.CONTINUE


async def test_silent_caller_is_abandoned(call):
    c = await call()
    await c.say("", kind="silence")
    r = await c.say("...", kind="speech")  # Whisper's text for noise counts as silence
    assert r.action == Action.HANGUP
    assert c.d.result()["outcome"] == "abandoned"


async def test_faq_answered_then_back_to_questions(call):
    c = await call()
    reply = await c.say("A che ora aprite?")
    assert reply.sentences[0] == "Siamo aperti dal lunedì al venerdì dalle 9 alle 19."
    assert reply.sentences[-1] == "Posso sapere il suo nome e cognome?"
    reply = await c.say("Mario Rossi")
    reply = await c.say("scusi, dove si trova la vostra agenzia?")
    assert reply.sentences[0] == "Siamo in via Roma 1, a Milano."
    assert c.d.state == State.COLLECTING
    assert State.FAQ in c.d.machine.history


async def test_unknown_question_promises_a_call_back(call):
    c = await call()
    reply = await c.say("Avete un parcheggio per i clienti?")
    assert reply.sentences[0] == OFF_TOPIC
    assert "Domanda del cliente: Avete un parcheggio per i clienti?" in c.d.lead.notes


async def test_transfer_on_request_in_business_hours(call):
    c = await call(hours=True)
    await c.say("Sono Mario Rossi")
    reply = await c.say("vorrei parlare con una persona")
    assert reply.action == Action.TRANSFER
    assert reply.transfer_to == "+390212345600"
    result = c.d.result()
    assert result["outcome"] == "transferred"
    assert result["transfer_to"] == "+390212345600"
    assert result["lead"]["name"] == "Mario Rossi"


async def test_transfer_outside_business_hours_takes_a_message(call):
    c = await call(hours=False)
    reply = await c.say("mi passi un operatore")
    assert reply.action == Action.CONTINUE
    assert "Mi lasci pure un messaggio" in reply.text
    reply = await c.say("Sono Mario Rossi, richiamatemi per il bilocale di via Padova")
    assert reply.sentences[0] == "Grazie, ho preso nota del messaggio."
    assert c.d.lead.name == "Mario Rossi"
    assert "Messaggio: Sono Mario Rossi, richiamatemi per il bilocale di via Padova" in (
        c.d.lead.notes
    )
    assert c.d.result()["outcome"] == "lead"


async def test_dtmf_zero(call):
    inside = await call(hours=True)
    reply = await inside.say("0", kind="dtmf")
    assert reply.action == Action.TRANSFER and reply.transfer_to == "+390212345600"
    outside = await call(hours=False)
    reply = await outside.say("0", kind="dtmf")
    assert reply.action == Action.CONTINUE and "messaggio" in reply.text


async def test_other_dtmf_repeats(call):
    c = await call()
    q = await c.say("vorrei comprare")
    reply = await c.say("5", kind="dtmf")
    assert reply.sentences[1:] == q.sentences[1:]


async def test_no_transfer_number_takes_a_message(call, tenant):
    tenant["transfer_number"] = ""
    c = await call(hours=True, t=tenant)
    reply = await c.say("mi passi un operatore")
    assert reply.action == Action.CONTINUE


async def test_transfer_failed_takes_a_message(call):
    c = await call()
    await c.say("mi passi un operatore")
    reply = await c.d.transfer_failed()
    assert reply.action == Action.CONTINUE
    assert c.d.state == State.COLLECTING
    reply = await c.say("Sono Anna Neri, cerco un bilocale")
    assert reply.sentences[0] == "Grazie, ho preso nota del messaggio."
    assert c.d.result()["outcome"] == "lead"


async def test_goodbye_mid_call_keeps_the_partial_lead(call):
    c = await call()
    await c.say("Sono Mario Rossi, cerco un trilocale")
    reply = await c.say("arrivederci")
    assert reply.action == Action.HANGUP
    result = c.d.result()
    assert result["outcome"] == "lead"
    assert result["confirmed"] is False
    assert result["missing"][:2] == ["zone", "budget"]


async def test_faq_only_call_is_completed(call):
    c = await call()
    await c.say("Siete aperti il sabato?")
    reply = await c.say("ok grazie, arrivederci")
    assert reply.action == Action.HANGUP
    assert reply.text == "Grazie per aver chiamato Immobiliare Demo. Arrivederci!"
    assert c.d.result()["outcome"] == "completed"


async def test_after_the_end_only_goodbye(call):
    c = await call()
    await c.say("arrivederci")
    again = await c.d.handle(Utterance("pronto?"))
    assert again.action == Action.HANGUP
    assert c.d.state == State.ENDED


async def test_anonymous_caller_is_asked_a_number(call):
    c = await call(caller="anonymous")
    await c.script(
        [
            "Sono Mario Rossi, cerco un trilocale ai Navigli sui 400 mila",
        ]
    )
    # Required questions come first: the phone is required when there is no caller id.
    assert c.d.pending == "phone"
    reply = await c.say("tre tre tre, uno due tre, quattro cinque sei sette")
    assert c.d.lead.phone == "+393331234567"
    await c.script(["subito", "domani"])
    assert "al numero 333 123 456 7" in c.replies[-1].text
    assert reply.action == Action.CONTINUE


async def test_dtmf_digits_for_the_phone(call):
    c = await call(caller="")
    await c.say("Sono Mario Rossi, cerco un trilocale ai Navigli sui 400 mila")
    assert c.d.pending == "phone"
    await c.say("3331234567#", kind="dtmf")
    assert c.d.lead.phone == "+393331234567"


async def test_custom_tenant_questions(call, tenant):
    tenant["questions"] = [
        {"key": "zone", "text": "In che zona cerca?", "required": False},
        {"key": "rooms", "text": "Quante camere le servono?", "required": True},
        {"key": "name", "text": "Come si chiama?", "required": True},
    ]
    c = await call(t=tenant)
    r = await c.say("buongiorno")
    assert r.sentences == ["Quante camere le servono?"]  # required first, tenant order
    r = await c.say("almeno tre camere")
    assert r.sentences[-1] == "Come si chiama?"
    r = await c.say("Carla Fontana")
    assert r.sentences[-1] == "In che zona cerca?"
    r = await c.say("Isola")
    assert r.sentences[-1] == "È corretto?"
    await c.say("sì")
    result = c.d.result()
    assert result["answers"] == {"rooms": "almeno tre camere"}
    assert "Quante camere le servono? almeno tre camere" in result["lead"]["notes"]
    assert result["missing"] == []


async def test_confirmation_can_be_disabled(call, tenant):
    tenant["settings"] = {"dialogue": {"confirm": False, "max_silences": 3}}
    tenant["questions"] = [{"key": "name", "text": "Come si chiama?", "required": True}]
    c = await call(t=tenant)
    reply = await c.say("Mi chiamo Mario Rossi")
    assert reply.action == Action.HANGUP
    assert c.d.settings.max_silences == 3


@pytest.mark.parametrize(
    "lines",
    [
        ["Sono Mario Rossi, cerco un trilocale ai Navigli sui 400 mila", "subito", "domani"],
        ["vorrei vendere", "Giulia Bianchi", "Brera", "una villa", "due milioni", "no", "sera"],
        ["A che ora aprite?", "mi passi un operatore"],
    ],
)
async def test_replies_are_short_phone_sentences(call, lines):
    c = await call()
    await c.script(lines)
    for reply in c.replies[1:]:
        for sentence in reply.sentences:
            if sentence.startswith(("Siamo", "Riepilogo")):
                continue  # tenant FAQ text and the one-sentence summary
            assert len(sentence) <= 120, sentence


async def test_bad_inputs_change_nothing(call):
    c = await call()
    before = {k: v for k, v in c.d.lead.as_dict().items() if k != "notes"}
    for utt in [
        Utterance("", None, "speech"),
        Utterance("   ", 0.1, "speech"),
        Utterance("?!", 0.5, "speech"),
    ]:
        reply = await c.d.handle(utt)
        assert reply.sentences
        if reply.action == Action.HANGUP:
            break
    assert {k: v for k, v in c.d.lead.as_dict().items() if k != "notes"} == before


async def test_long_monologue_is_bounded(call):
    c = await call()
    text = "Sono Mario Rossi, cerco un trilocale ai Navigli sui 400 mila. " + "bla " * 5000
    reply = await c.say(text)
    assert reply.action == Action.CONTINUE
    assert c.d.lead.zone == "Navigli"
    assert c.d.result()["transcript"][1]["text"] == text.strip()  # the transcript keeps it all


async def test_an_internal_error_does_not_drop_the_call(call, monkeypatch):
    c = await call()
    await c.say("vorrei comprare casa")

    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(c.d.extractor, "extract", boom)
    reply = await c.say("Mario Rossi")
    assert reply.action == Action.CONTINUE
    assert reply.sentences[0] == "Mi scusi, non ho capito bene."
    assert "Errore interno su: Mario Rossi" in c.d.lead.notes
    monkeypatch.undo()
    await c.say("Mario Rossi")
    assert c.d.lead.name == "Mario Rossi"


async def test_ten_minute_call_many_turns(call):
    now = [0.0]
    c = await call(clock=lambda: now[0])
    for i in range(120):  # one turn every 5 s: a 10-minute call
        now[0] += 5
        reply = await c.say("a che ora aprite?" if i % 2 else "può ripetere?")
        assert reply.action == Action.CONTINUE
    now[0] += 5
    await c.say("Sono Mario Rossi, cerco un trilocale ai Navigli sui 400 mila")
    result = c.d.result()
    assert result["outcome"] == "lead"
    assert len(result["transcript"]) == 1 + 2 * 121
    assert result["transcript"][-1]["t"] == 605.0


async def test_bare_number_corrects_the_budget_while_confirming(call):
    c = await call()
    await c.script(
        ["Mi chiamo Andrea Costa, cerco un monolocale in affitto a Isola", "600 euro", "subito"]
    )
    await c.say("quando volete")
    assert c.d.state == State.CONFIRMING
    reply = await c.say("no, sono 650")
    assert reply.sentences[0] == "Ho corretto."
    assert "fino a 650 euro al mese" in reply.text
    await c.say("sì")
    assert c.d.lead.budget_max == 650


async def test_silence_after_the_greeting_repeats_only_its_question(call):
    c = await call()
    reply = await c.say("", kind="silence")
    assert reply.sentences == ["Mi sente?", "Come posso aiutarla?"]


# --- timing read back in the caller's words (issue 3) ---------------------------------


async def test_summary_reads_back_the_callers_timing(call):
    c = await call()
    reply = await c.say(
        "Sono Chiara Ferri e cerco un bilocale a Breda, massimo 320 mila, nei prossimi tre mesi"
    )
    assert reply.sentences[-1] == "In che orario preferisce essere richiamato?"
    summary = await c.say("domani dopo le 17")
    assert summary.sentences[-2] == (
        "Riepilogo: Chiara Ferri, acquisto di un bilocale in zona Brera, budget fino a "
        "320 mila euro, nei prossimi tre mesi, da richiamare domani dopo le 17."
    )
    # A correction of the timing replaces the words and the level.
    corrected = await c.say("no, entro l'estate")
    assert "entro l'estate" in corrected.text and "tre mesi" not in corrected.text
    await c.say("sì")
    lead = c.d.result()["lead"]
    assert (lead["urgency"], lead["timing"]) == ("medium", "entro l'estate")


async def test_timing_that_is_not_an_adverbial_reads_as_the_label(call):
    c = await call()
    await c.script(["Sono Mario Rossi, vorrei vendere un bilocale a Brera", "300 mila"])
    reply = await c.say("Guardi, non ho fretta")
    assert c.d.lead.timing == "non ho fretta"
    reply = await c.say("la mattina")
    assert "bilocale in zona Brera, budget fino a 300 mila euro, senza fretta" in reply.text
