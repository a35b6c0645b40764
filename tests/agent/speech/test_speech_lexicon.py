"""Italian lexicon post-correction of Whisper text (agent/stt/lexicon.py).

Uses the real wordfreq Italian list. The misspellings are Whisper base's own outputs
on the Asterisk Italian prompts and on the offline voices (docs/speech.md).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from agent.extraction.zones import ZoneMatcher
from agent.stt.lexicon import ItalianLexicon
from agent.voice.pipeline import vocabulary_prompt


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
        ("io vorei comprare un trilocale", "io vorrei comprare un trilocale"),
        ("Il tuo messaggio provisorio", "Il tuo messaggio provvisorio"),
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
        "Mapelli è il mio cognome.",  # a surname opening a sentence, one edit from capelli
        "Zonca è il mio cognome, Luigi.",
        "Pilleri.",
        "Moldovan.",
        "mi chiamo mapelli",  # lowercase, but after a name cue
        "la mia mail è mariorossi@libero.it",
        "il sito è casamilano.it",
        "entro fine anno, non ho fretta",
        "ok",
        "",
        "   ",
        "3 locali, 2 bagni, 90 mq",
    ],
)
def test_correct_italian_and_names_are_left_alone(lex: ItalianLexicon, text: str) -> None:
    assert lex.correct(text) == text


def _demo_tenant() -> dict:
    path = Path(__file__).parents[3] / "centralino" / "tenants" / "demo.toml"
    data = tomllib.loads(path.read_text("utf-8"))
    return data["tenant"][0]


@pytest.mark.parametrize(
    ("heard", "zone"),
    [
        ("Isora.", "Isola"),  # one-letter slips the zone matcher reads in context
        ("Brere.", "Brera"),
        ("in zona navegli", "Navigli"),
        ("all'isora", "Isola"),
        ("in zona Navigli", "Navigli"),
    ],
)
def test_correction_never_hides_a_zone_from_the_matcher(
    lex: ItalianLexicon, heard: str, zone: str
) -> None:
    """The lexicon runs before the zone matcher: what the matcher reads on the raw
    transcript it must still read after correction (demo tenant, its Whisper prompt)."""
    tenant = _demo_tenant()
    prompt = vocabulary_prompt(tenant)
    matcher = ZoneMatcher(list(tenant["zones"]))
    raw = matcher.find(heard, expecting=True)
    corrected = lex.correct(heard, [prompt])
    after = matcher.find(corrected, expecting=True)
    assert raw is not None and raw.zone == zone
    assert after is not None and after.zone == zone, corrected


def test_punctuation_and_spacing_survive(lex: ItalianLexicon) -> None:
    assert lex.correct("Sì!  acoustico, grazie...") == "Sì!  acustico, grazie..."
    assert lex.correct("dell'acoustico") == "dell'acustico"
