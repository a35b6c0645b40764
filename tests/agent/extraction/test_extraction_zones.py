from __future__ import annotations

import pytest

from agent.extraction.zones import ZoneMatcher

ZONES = ["Navigli", "Porta Romana", "Città Studi", "Brera", "Isola", "Lambrate", "Centro Storico"]


@pytest.fixture(scope="module")
def matcher() -> ZoneMatcher:
    return ZoneMatcher(ZONES)


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("cerco ai Navigli", "Navigli"),
        ("zona Città Studi", "Città Studi"),
        ("zona citta studi", "Città Studi"),
        ("CITTÀ STUDI", "Città Studi"),
        ("vicino a Porta Romana", "Porta Romana"),
        ("all'Isola", "Isola"),
        ("nel centro storico", "Centro Storico"),
        ("vivo a Lambrate", "Lambrate"),
        # STT errors and typos
        ("Navili", "Navigli"),
        ("ai navigl", "Navigli"),
        ("lambrati", "Lambrate"),
        ("Brerra", "Brera"),
        ("porta romagna", "Porta Romana"),
        ("citta studio", "Città Studi"),
        ("centro storic", "Centro Storico"),
    ],
)
def test_listed_zones(matcher, text, zone):
    found = matcher.find(text)
    assert found is not None and found.zone == zone and found.listed


def test_exact_is_more_confident_than_fuzzy(matcher):
    exact, fuzzy = matcher.find("Navigli"), matcher.find("Navili")
    assert exact and fuzzy and exact.confidence > fuzzy.confidence


@pytest.mark.parametrize(
    "text",
    ["da sola", "buongiorno", "cerco un trilocale", "sono brava", "centro", "isolato", ""],
)
def test_no_false_zones(matcher, text):
    assert matcher.find(text) is None


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("zona Bovisa", "Bovisa"),
        ("vicino al Politecnico", "Politecnico"),
        ("in zona San Siro, un bilocale", "San Siro"),
    ],
)
def test_unlisted_zone_named_explicitly(matcher, text, zone):
    found = matcher.find(text)
    assert found is not None and found.zone == zone and not found.listed
    assert found.confidence <= 0.5


def test_first_mentioned_wins_on_ties(matcher):
    found = matcher.find("Brera oppure Isola")
    assert found is not None and found.zone == "Brera"


def test_empty_zone_list():
    assert ZoneMatcher([]).find("Navigli") is None
