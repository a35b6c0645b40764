from __future__ import annotations

import pytest

from agent.extraction import Extractor
from agent.extraction.spell import correct, correct_word


@pytest.mark.parametrize(
    ("typo", "word"),
    [
        ("vendre", "vendere"),
        ("doomani", "domani"),
        ("matina", "mattina"),
        ("subto", "subito"),
        ("appartameno", "appartamento"),
        ("arrivderci", "arrivederci"),
        ("trilocal", "trilocale"),
        ("miilione", "milione"),
    ],
)
def test_typos_are_corrected(typo, word):
    assert correct_word(typo) == word


@pytest.mark.parametrize(
    "word",
    ["centro", "quando", "prendere", "prossimo", "vendita", "settembre", "casa", "sera", "grazie"],
)
def test_real_words_stay(word):
    assert correct_word(word) == word


def test_capitalised_words_are_left_alone():
    assert (
        correct("Mi chiamo Serena Vendre, vorrei vendre")
        == "Mi chiamo Serena Vendre, vorrei vendere"
    )


def test_extraction_through_typos():
    ex = Extractor(["Navigli"])
    fields = ex.extract("vorrei vendre un apartamento ai navigli, doomani matina").fields
    assert fields["request_type"] == "sell"
    assert fields["property_type"] == "appartamento"
    assert fields["zone"] == "Navigli"
    assert ex.extract("richiamatemi doomani matina").fields["callback_time"] == "domani mattina"
