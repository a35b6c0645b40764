"""Lead scoring: per-tenant rules turning a lead into a 0..100 score with reasons."""

from centralino.scoring.rules import (
    Reason,
    Score,
    ScoringError,
    ScoringSettings,
    parse_scoring_settings,
    score_lead,
)

__all__ = [
    "Reason",
    "Score",
    "ScoringError",
    "ScoringSettings",
    "parse_scoring_settings",
    "score_lead",
]
