"""Lead scoring: the default rule, per-tenant overrides, and bad settings."""

from __future__ import annotations

import pytest

from centralino.scoring import ScoringError, parse_scoring_settings, score_lead


def test_default_rule_tiers_urgency_zone_and_cap() -> None:
    s = score_lead(
        {"budget_max": 600_000, "zone": "Brera"}, ["Mi serve subito, è urgente"], ["Brera"]
    )
    assert s.value == 30 + 25 + 20
    assert [r.rule for r in s.reasons] == ["budget", "urgency", "premium_zone"]
    assert "600.000 €" in s.reasons[0].text
    assert "subito" in s.reasons[1].text and "urgente" in s.reasons[1].text

    assert score_lead({"budget_min": 350_000, "budget_max": 350_000}, "", []).value == 20
    assert score_lead({"budget_max": 300_000}, "", []).value == 10  # "> 300k" is strict
    assert score_lead({"budget_max": 120_000}, "", []).value == 10
    assert score_lead({}, "vorrei informazioni", []).value == 0
    # Accents and case do not matter; the extracted urgency counts too.
    assert score_lead({}, ["Il prima possibile, IMMEDIATO"], []).value == 25
    assert score_lead({"urgency": "high"}, [], []).value == 25
    # Premium zone matched inside a longer zone description, case-insensitive.
    assert score_lead({"zone": "zona brera, vicino al centro"}, [], ["Brera"]).value == 20


def test_cap_and_tenant_overrides() -> None:
    cfg = parse_scoring_settings(
        {
            "budget_tiers": [{"above": 100_000, "points": 60}],
            "urgency_points": 50,
            "urgency_words": ["fretta"],
            "cap": 90,
        }
    )
    s = score_lead({"budget_max": 200_000}, "ho fretta", [], cfg)
    assert s.value == 90  # 60 + 50 capped
    assert score_lead({}, "urgente", [], cfg).value == 0  # words replaced, not merged


def test_budget_strings_are_refused_not_parsed() -> None:
    with pytest.raises(ScoringError) as exc:
        score_lead({"budget_max": "350k"}, "", [])
    assert exc.value.field == "budget_max"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"cap": "100"}, "scoring.cap"),
        ({"urgency_points": 500}, "scoring.urgency_points"),
        ({"budget_tiers": [{"above": 1}]}, "scoring.budget_tiers[0]"),
        ({"urgency_words": "urgente"}, "scoring.urgency_words"),
        ({"bonus": 3}, "scoring.bonus"),
    ],
)
def test_bad_settings_name_the_field(data: dict, field: str) -> None:
    with pytest.raises(ScoringError) as exc:
        parse_scoring_settings(data)
    assert exc.value.field == field
    assert field in str(exc.value)
