from __future__ import annotations

import pytest

from agent.extraction.numbers import find_amounts, parse_number, split_number_word, tokenize


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("trecentocinquantamila", 350_000),
        ("un milione e due", 1_200_000),
        ("duecento cinquanta mila", 250_000),
        ("un milione e mezzo", 1_500_000),
        ("mezzo milione", 500_000),
        ("350 mila", 350_000),
        ("350mila", 350_000),
        ("350k", 350_000),
        ("350.000 euro", 350_000),
        ("300.000", 300_000),
        ("1.250.000", 1_250_000),
        ("€ 1,2 milioni", 1_200_000),
        ("1,5 milioni", 1_500_000),
        ("2 milioni e mezzo", 2_500_000),
        ("un milione duecentomila", 1_200_000),
        ("un milione e 200", 1_200_000),
        ("settantamila", 70_000),
        ("novecentomila", 900_000),
        ("centottantamila", 180_000),
        ("duecentoventimila", 220_000),
        ("ventitré", 23),
        ("ventuno", 21),
        ("trentotto", 38),
        ("milleduecento", 1200),
        ("duemila", 2000),
        ("diciassettemila", 17_000),
        ("due milioni", 2_000_000),
        ("quattrocentocinquantamila", 450_000),
        ("seicentomila", 600_000),
        ("Un Milione E Mezzo", 1_500_000),
    ],
)
def test_parse_number(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("word", ["settanta", "sessantasei", "novecento", "ottocentottanta"])
def test_compound_words_split_fully(word):
    assert split_number_word(word) is not None


@pytest.mark.parametrize("word", ["casa", "trilocale", "settembre", "ventilato", "centro", "x1"])
def test_non_numbers(word):
    assert split_number_word(word) is None


def test_articles_are_not_numbers():
    assert find_amounts(tokenize("cerco un trilocale e una villa")) == []


def test_two_numbers_stay_two():
    amounts = find_amounts(tokenize("tra 200 e 250 mila"))
    assert [a.value for a in amounts] == [200, 250_000]
    assert amounts[1].has_scale and not amounts[0].has_scale
