"""Lead scoring rules.

The default reproduces the agency's original rule of thumb: budget tiers
(> 500k: 30, > 300k: 20, any other stated budget: 10), urgency words said by the
caller (25), a zone the agency marked as premium (20), capped at 100.

Each tenant can override the numbers in ``Tenant.settings["scoring"]`` (validated
by :func:`parse_scoring_settings`, errors name the field). Budgets arrive as
numbers from the agent's extraction; a string budget is a programming error here,
never something to parse ("350k" is the dialogue engine's job).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_URGENCY_WORDS: tuple[str, ...] = (
    "urgente",
    "urgenza",
    "subito",
    "immediato",
    "immediatamente",
    "prima possibile",
    "al più presto",
    "quanto prima",
    "entro questa settimana",
)


class ScoringError(ValueError):
    """Invalid scoring settings or input; ``field`` names the offending setting."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class BudgetTier:
    # Strictly greater than ``above`` euros earns ``points``.
    above: int
    points: int


@dataclass(frozen=True)
class ScoringSettings:
    budget_tiers: tuple[BudgetTier, ...] = (BudgetTier(500_000, 30), BudgetTier(300_000, 20))
    # Points for a stated budget below every tier (no budget at all earns nothing).
    budget_base_points: int = 10
    urgency_words: tuple[str, ...] = DEFAULT_URGENCY_WORDS
    urgency_points: int = 25
    # The extracted urgency field ("high") counts like an urgency word.
    urgency_levels: tuple[str, ...] = ("high",)
    premium_zone_points: int = 20
    cap: int = 100


@dataclass(frozen=True)
class Reason:
    rule: str  # budget | urgency | premium_zone
    points: int
    # Italian, shown to the agency in the admin and in notifications.
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "points": self.points, "text": self.text}


@dataclass(frozen=True)
class Score:
    value: int
    reasons: list[Reason] = field(default_factory=list)

    def reasons_as_dicts(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.reasons]


def _int(value: Any, where: str, minimum: int = 0, maximum: int = 10**12) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScoringError(f"{where}: deve essere un numero intero (ricevuto {value!r})", where)
    if not minimum <= value <= maximum:
        raise ScoringError(f"{where}: deve essere tra {minimum} e {maximum}", where)
    return value


def parse_scoring_settings(data: Mapping[str, Any] | None) -> ScoringSettings:
    """Validate ``Tenant.settings["scoring"]``; missing keys keep the defaults."""
    if data is None:
        return ScoringSettings()
    if not isinstance(data, Mapping):
        raise ScoringError("scoring: deve essere una tabella di impostazioni", "scoring")
    base = ScoringSettings()
    known = set(ScoringSettings.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ScoringError(
            f"scoring.{unknown[0]}: impostazione sconosciuta", f"scoring.{unknown[0]}"
        )
    kwargs: dict[str, Any] = {}
    if "budget_tiers" in data:
        raw = data["budget_tiers"]
        if not isinstance(raw, list):
            raise ScoringError(
                "scoring.budget_tiers: deve essere una lista", "scoring.budget_tiers"
            )
        tiers = []
        for i, item in enumerate(raw):
            where = f"scoring.budget_tiers[{i}]"
            if not isinstance(item, Mapping) or set(item) != {"above", "points"}:
                raise ScoringError(f"{where}: serve {{above, points}}", where)
            tiers.append(
                BudgetTier(
                    _int(item["above"], f"{where}.above"),
                    _int(item["points"], f"{where}.points", 0, 100),
                )
            )
        # Highest threshold first so the first match is the best tier.
        kwargs["budget_tiers"] = tuple(sorted(tiers, key=lambda t: t.above, reverse=True))
    for key in ("budget_base_points", "urgency_points", "premium_zone_points"):
        if key in data:
            kwargs[key] = _int(data[key], f"scoring.{key}", 0, 100)
    if "cap" in data:
        kwargs["cap"] = _int(data["cap"], "scoring.cap", 1, 1000)
    for key in ("urgency_words", "urgency_levels"):
        if key in data:
            raw = data[key]
            if not isinstance(raw, list) or not all(isinstance(w, str) and w.strip() for w in raw):
                raise ScoringError(
                    f"scoring.{key}: deve essere una lista di parole", f"scoring.{key}"
                )
            kwargs[key] = tuple(w.strip().lower() for w in raw)
    return ScoringSettings(**{**base.__dict__, **kwargs})


def _fold(text: str) -> str:
    """Lower-case, accents removed, punctuation to spaces: "Più" matches "piu"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " " + re.sub(r"[^a-z0-9]+", " ", plain).strip() + " "


def _euro(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " €"


def score_lead(
    lead: Mapping[str, Any],
    caller_text: str | Iterable[str],
    premium_zones: Sequence[str],
    settings: ScoringSettings | None = None,
) -> Score:
    """Score a lead.

    ``lead`` has the extracted fields (``budget_min``/``budget_max`` as numbers or
    None, ``zone``, ``urgency``); ``caller_text`` is what the caller said (the
    urgency words are looked for there, not in the agent's questions).
    """
    cfg = settings or ScoringSettings()
    reasons: list[Reason] = []

    budgets = []
    for key in ("budget_max", "budget_min"):
        value = lead.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ScoringError(
                f"{key} must be a number of euros, got {type(value).__name__} {value!r}", key
            )
        budgets.append(int(value))
    if budgets:
        budget = max(budgets)
        tier = next((t for t in cfg.budget_tiers if budget > t.above), None)
        if tier is not None:
            reasons.append(
                Reason("budget", tier.points, f"Budget {_euro(budget)} (oltre {_euro(tier.above)})")
            )
        elif cfg.budget_base_points:
            reasons.append(
                Reason("budget", cfg.budget_base_points, f"Budget indicato: {_euro(budget)}")
            )

    text = caller_text if isinstance(caller_text, str) else " ".join(caller_text)
    folded = _fold(text)
    said = [w for w in cfg.urgency_words if _fold(w) in folded]
    level = str(lead.get("urgency") or "").strip().lower()
    if said:
        reasons.append(
            Reason(
                "urgency",
                cfg.urgency_points,
                "Urgenza: ha detto " + ", ".join(f"“{w}”" for w in said),
            )
        )
    elif level and level in cfg.urgency_levels:
        reasons.append(Reason("urgency", cfg.urgency_points, "Urgenza alta indicata dal cliente"))

    zone = str(lead.get("zone") or "").strip()
    if zone:
        folded_zone = _fold(zone)
        match = next((z for z in premium_zones if z.strip() and _fold(z) == folded_zone), None)
        if match is None:
            # "Brera, vicino al centro" still counts for premium zone "Brera".
            match = next((z for z in premium_zones if z.strip() and _fold(z) in folded_zone), None)
        if match is not None:
            reasons.append(
                Reason("premium_zone", cfg.premium_zone_points, f"Zona di pregio: {match}")
            )

    total = min(cfg.cap, sum(r.points for r in reasons))
    return Score(total, reasons)
