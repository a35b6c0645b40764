from __future__ import annotations

import pytest

from agent.extraction.budget import extract_budget


@pytest.mark.parametrize(
    ("text", "lo", "hi"),
    [
        ("Il mio budget è di trecentocinquantamila euro", None, 350_000),
        ("sui 400 mila", None, 400_000),
        ("350k", None, 350_000),
        ("€ 1,2 milioni", None, 1_200_000),
        ("circa 300.000 euro", None, 300_000),
        ("300mila", None, 300_000),
        ("un milione e mezzo", None, 1_500_000),
        ("tra 200 e 250 mila", 200_000, 250_000),
        ("tra i 200 e i 250 mila euro", 200_000, 250_000),
        ("fra duecento e duecentocinquantamila", 200_000, 250_000),
        ("dai 300 ai 350 mila", 300_000, 350_000),
        ("da 300 a 350 mila euro", 300_000, 350_000),
        ("tra 200.000 e 250.000", 200_000, 250_000),
        ("tra un milione e un milione e mezzo", 1_000_000, 1_500_000),
        ("tra 250 e 200 mila", 200_000, 250_000),
        ("massimo 400 mila", None, 400_000),
        ("al massimo quattrocentomila", None, 400_000),
        ("non più di 300.000 euro", None, 300_000),
        ("fino a 500 mila", None, 500_000),
        ("non oltre 450 mila", None, 450_000),
        ("almeno 250 mila", 250_000, None),
        ("da 300 mila in su", 300_000, None),
        ("minimo 200 mila", 200_000, None),
        ("più di un milione", 1_000_000, None),
    ],
)
def test_budget(text, lo, hi):
    b = extract_budget(text)
    assert b is not None, text
    assert (b.min, b.max) == (lo, hi)


@pytest.mark.parametrize(
    ("text", "hi"),
    [("400", 400_000), ("sui 400", 400_000), ("trecento", 300_000), ("350 mila", 350_000)],
)
def test_bare_numbers_when_asked(text, hi):
    b = extract_budget(text, expecting=True)
    assert b is not None and b.max == hi


@pytest.mark.parametrize(
    ("text", "lo", "hi"),
    [
        ("massimo 900 euro al mese", None, 900),
        ("tra 800 e 1000 euro al mese", 800, 1000),
        ("sui 1200 euro", None, 1200),
    ],
)
def test_rent_budgets_are_monthly(text, lo, hi):
    b = extract_budget(text, rent=True)
    assert b is not None and (b.min, b.max) == (lo, hi)


@pytest.mark.parametrize(
    "text",
    [
        "cerco un trilocale di 80 metri quadri",
        "richiamatemi dopo le 18",
        "il mio numero è 3331234567",
        "entro un mese",
        "con 3 camere e 2 bagni",
        "al terzo piano",
        "abito al civico 12",
        "",
        "buongiorno",
    ],
)
def test_not_budgets(text):
    assert extract_budget(text) is None


def test_confidence_lower_when_scale_is_implied():
    explicit = extract_budget("400 mila euro")
    implied = extract_budget("400", expecting=True)
    assert explicit and implied and explicit.confidence > implied.confidence
