"""Cost model: what the receptionist costs an agency, from ``Tenant.settings["costs"]``.

    [costs]
    trunk_eur_per_min = 0.012          # SIP trunk tariff for inbound minutes
    fixed_monthly_eur = 49.0           # hosting / licence, prorated per day
    [costs.tts_eur_per_char]           # price per synthesised character, by provider
    elevenlabs = 0.00018
    offline = 0.0

A provider named ``"offline:pico"`` is priced by ``"offline:pico"`` if present,
else by ``"offline"`` (the part before the colon), else at zero; a turn spoken
by two providers (``"elevenlabs+offline:pico"``) at the dearer one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

_KEYS = {"trunk_eur_per_min", "fixed_monthly_eur", "tts_eur_per_char", "currency"}
# The monthly fee is prorated per day over an average month, so a range of any
# length gets its share and a whole year gets exactly 12 fees.
DAYS_PER_MONTH = 365 / 12


class CostSettingsError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CostSettings:
    trunk_eur_per_min: float = 0.0
    fixed_monthly_eur: float = 0.0
    tts_eur_per_char: dict[str, float] = field(default_factory=dict)
    currency: str = "EUR"

    def tts_price(self, provider: str) -> float:
        # The voice pipeline records a turn spoken by two providers as
        # "elevenlabs+offline:pico2wave" without the split of characters:
        # price it at the dearest part, an upper bound rather than a guess.
        if "+" in provider:
            return max(self.tts_price(part) for part in provider.split("+") if part)
        if provider in self.tts_eur_per_char:
            return self.tts_eur_per_char[provider]
        return self.tts_eur_per_char.get(provider.split(":", 1)[0], 0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "trunk_eur_per_min": self.trunk_eur_per_min,
            "fixed_monthly_eur": self.fixed_monthly_eur,
            "tts_eur_per_char": dict(self.tts_eur_per_char),
            "currency": self.currency,
        }


def _price(value: Any, where: str, upper: float) -> float:
    # bool is an int subclass: "true" is not a price.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CostSettingsError(f"{where} must be a number", where)
    number = float(value)
    if not math.isfinite(number) or number < 0 or number > upper:
        raise CostSettingsError(f"{where} must be between 0 and {upper}", where)
    return number


def parse_costs(data: Any) -> CostSettings:
    """Validate ``settings["costs"]``; errors name the offending key (``costs.x``)."""
    if data is None:
        return CostSettings()
    if not isinstance(data, dict):
        raise CostSettingsError("costs must be a table", "costs")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise CostSettingsError(
            f"unknown cost setting(s): {', '.join(unknown)}", f"costs.{unknown[0]}"
        )
    trunk = _price(data.get("trunk_eur_per_min", 0.0), "costs.trunk_eur_per_min", 100.0)
    fixed = _price(data.get("fixed_monthly_eur", 0.0), "costs.fixed_monthly_eur", 1_000_000.0)
    raw_tts = data.get("tts_eur_per_char", {})
    if not isinstance(raw_tts, dict):
        raise CostSettingsError("costs.tts_eur_per_char must be a table", "costs.tts_eur_per_char")
    tts: dict[str, float] = {}
    for provider, price in raw_tts.items():
        where = f"costs.tts_eur_per_char.{provider}"
        if not isinstance(provider, str) or not provider.strip() or len(provider) > 40:
            raise CostSettingsError("provider names must be 1-40 characters", where)
        tts[provider] = _price(price, where, 1.0)
    currency = data.get("currency", "EUR")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise CostSettingsError("costs.currency must be a 3-letter code", "costs.currency")
    return CostSettings(trunk, fixed, tts, currency.upper())


@dataclass(frozen=True)
class CostBreakdown:
    trunk: float
    tts: float
    fixed: float
    total: float
    minutes: float
    tts_chars: dict[str, int]
    leads: int
    per_lead: float | None
    currency: str


def compute_costs(
    settings: CostSettings,
    *,
    call_seconds: float,
    tts_chars: dict[str, int],
    days: int,
    leads: int,
) -> CostBreakdown:
    minutes = call_seconds / 60.0
    trunk = minutes * settings.trunk_eur_per_min
    tts = sum(chars * settings.tts_price(p) for p, chars in tts_chars.items())
    fixed = settings.fixed_monthly_eur * days / DAYS_PER_MONTH
    total = trunk + tts + fixed
    return CostBreakdown(
        trunk=round(trunk, 4),
        tts=round(tts, 4),
        fixed=round(fixed, 4),
        total=round(total, 4),
        minutes=round(minutes, 3),
        tts_chars=dict(tts_chars),
        leads=leads,
        per_lead=round(total / leads, 4) if leads else None,
        currency=settings.currency,
    )
