"""Italian lexicon post-correction of Whisper text (agent/stt/lexicon.py).

Uses the real wordfreq Italian list. The misspellings are Whisper base's own outputs
on the Asterisk Italian prompts and on the offline voices (docs/speech.md).
"""

from __future__ import annotations

import pytest

from agent.stt.lexicon import ItalianLexicon


@pytest.fixture(scope="module")
def lex() -> ItalianLexicon:
    lexicon = ItalianLexicon()
    lexicon.load()
    return lexicon


@pytest.mark.parametrize(
    ("heard", "fixed"),
    [
        ("Dopo il segnale acoustico", "Dopo il segnale acustico"),  # one letter too many
        ("premere a sterisco per tornare", "premere asterisco per tornare"),  # cut in two
        ("con gratulazioni, hai installato", "congratulazioni, hai installato"),
        ("ora e infuturo.", "ora e in futuro."),  # glued together
        ("dica il suonome.", "dica il suo nome."),
        ("Grazie per la sua patienza.", "Grazie per la sua pazienza."),
        ("Vorei comprare un trilocale", "Vorrei comprare un trilocale"),
        ("Il tuo messaggio provisorio", "Il tuo messaggio provvisorio"),
        ("Chinque!", "Cinque!"),  # alone and capitalised, but not even a name
    ],
)
def test_non_words_are_respelled(lex: ItalianLexicon, heard: str, fixed: str) -> None:
    assert lex.correct(heard) == fixed


@pytest.mark.parametrize(
    "text",
    [
        "Buongiorno, mi chiamo Mario Rossi.",
        "Vorrei vendere un bilocale in zona Brera, budget 300.000 euro.",
        "Sono Giulia Zanzottera, mi richiami domani mattina.",  # rare surname mid-sentence
        "Mi chiamo Scognamillo.",  # capitalised inside the sentence: a name
        "Mapelli.",  # a surname given alone, one edit from "capelli"
        "Mapelli Giovanni.",
        "entro fine anno, non ho fretta",
        "ok",
        "",
        "   ",
        "3 locali, 2 bagni, 90 mq",
    ],
)
def test_correct_italian_and_names_are_left_alone(lex: ItalianLexicon, text: str) -> None:
    assert lex.correct(text) == text


def test_tenant_vocabulary_is_known_and_a_target(lex: ItalianLexicon) -> None:
    vocabulary = ["Navigli, Brera, Isola, CityLife, Porta Romana, bilocale, trilocale"]
    # A one-letter slip of a tenant zone goes to the zone...
    assert lex.correct("in zona navilli", vocabulary) == "in zona navigli"
    # ... and a zone that is not Italian is never "corrected" into a common word.
    assert lex.correct("citylife o isola", vocabulary) == "citylife o isola"
    # Without the vocabulary the rare zone name is not forced anywhere either.
    assert lex.correct("in zona Navigli") == "in zona Navigli"


def test_punctuation_and_spacing_survive(lex: ItalianLexicon) -> None:
    assert lex.correct("Sì!  acoustico, grazie...") == "Sì!  acustico, grazie..."
    assert lex.correct("dell'acoustico") == "dell'acustico"
