"""A small fixed data set whose analytics are computed by hand in test_analytics.py.

Tenant "alfa" (Europe/Rome), range 2026-03-28 .. 2026-03-30: the range crosses
the switch to summer time (2026-03-29 01:00 UTC, +1h -> +2h), so local hours and
days only come out right if the offset is applied per call. Tenant "beta" has
calls in the same hours that must never show up in alfa's numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from centralino.calls.models import Call, Turn
from centralino.db.session import Database
from centralino.leads.models import Lead
from centralino.sentiment.models import CallSentiment
from centralino.tenants.service import TenantService, parse_spec

ALFA_COSTS = {
    "trunk_eur_per_min": 0.02,
    "fixed_monthly_eur": 36.5,
    "tts_eur_per_char": {"elevenlabs": 0.0002, "offline": 0.0},
}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _call(tenant_id: int, cid: str, start: datetime, duration: float | None, **kw: Any) -> Call:
    return Call(
        id=cid,
        tenant_id=tenant_id,
        channel_id=cid,
        caller_id="+393331234567",
        did="+390212345678",
        started_at=start,
        answered_at=start if duration is not None else None,
        ended_at=start + timedelta(seconds=duration or 5),
        duration_s=duration,
        state="ended",
        outcome=kw.pop("outcome", "completed"),
        **kw,
    )


def _lead(tenant_id: int, call_id: str | None, at: datetime, **kw: Any) -> Lead:
    return Lead(tenant_id=tenant_id, call_id=call_id, created_at=at, phone="+393331234567", **kw)


def _agent(tenant_id: int, cid: str, idx: int, at: datetime, **kw: Any) -> Turn:
    return Turn(call_id=cid, tenant_id=tenant_id, index=idx, speaker="agent", at=at, **kw)


def _caller(tenant_id: int, cid: str, idx: int, at: datetime) -> Turn:
    return Turn(
        call_id=cid, tenant_id=tenant_id, index=idx, speaker="caller", at=at, stt_provider="whisper"
    )


def load_fixed_dataset(db: Database) -> tuple[int, int]:
    """Insert the data set; returns (alfa_id, beta_id)."""
    tenants = TenantService(db)
    alfa = tenants.upsert(
        parse_spec(
            {
                "slug": "alfa",
                "name": "Immobiliare Alfa",
                "numbers": ["+390212345678"],
                "settings": {"costs": ALFA_COSTS},
            }
        )
    )
    beta = tenants.upsert(
        parse_spec({"slug": "beta", "name": "Immobiliare Beta", "numbers": ["+390698765432"]})
    )
    with db.session() as s:
        c1, c2, c3 = utc(2026, 3, 28, 8, 30), utc(2026, 3, 28, 23, 30), utc(2026, 3, 29, 7, 0)
        s.add_all(
            [
                _call(alfa, "c1", c1, 120.0),
                _call(alfa, "c2", c2, 60.0),
                _call(alfa, "c3", c3, 180.0),
                _call(alfa, "c4", utc(2026, 3, 30, 16, 15), None, outcome="abandoned"),
                _call(alfa, "c5", utc(2026, 3, 30, 22, 30), 45.0),  # 00:30 on 31 March: outside
                _call(alfa, "c6", utc(2026, 3, 27, 23, 10), 30.0),  # 00:10 on 28 March: inside
                _call(alfa, "c7", utc(2026, 3, 29, 10, 0), 90.0, simulated=True),
                _call(beta, "b1", utc(2026, 3, 29, 10, 0), 500.0),
                _call(beta, "b2", utc(2026, 3, 28, 8, 0), 200.0),
            ]
        )
        s.flush()
        five = timedelta(minutes=5)
        s.add_all(
            [
                _lead(alfa, "c1", c1 + five, name="Mario Rossi", request_type="buy", zone="Brera",
                      budget_max=600_000, urgency="high", score=80),
                _lead(alfa, "c2", c2 + five, name="Anna Bianchi", request_type="rent", zone="",
                      budget_min=250_000, score=30),
                _lead(alfa, "c3", c3 + five, name="Luca Verdi", request_type="sell",
                      zone="Navigli", budget_min=350_000, budget_max=350_000, urgency="medium",
                      score=45),
                _lead(alfa, None, utc(2026, 3, 30, 10, 0), name="Manuale", request_type="buy",
                      zone="Isola", urgency="low"),
                _lead(alfa, "c7", utc(2026, 3, 29, 10, 5), name="Simulato", request_type="buy",
                      zone="Brera", budget_max=900_000, score=95),
                _lead(beta, "b1", utc(2026, 3, 29, 10, 5), name="Beta", request_type="buy",
                      zone="Brera", budget_max=900_000, score=95),
            ]
        )  # fmt: skip
        sec = timedelta(seconds=10)
        s.add_all(
            [
                _caller(alfa, "c1", 0, c1 + sec),
                _agent(alfa, "c1", 1, c1 + 2 * sec, llm_provider="ollama",
                       tts_provider="elevenlabs", tts_chars=100, reply_ms=800.0,
                       first_audio_ms=1200.0),
                _agent(alfa, "c1", 2, c1 + 3 * sec, llm_provider="rules",
                       tts_provider="elevenlabs", tts_chars=50, reply_ms=400.0,
                       first_audio_ms=900.0),
                _agent(alfa, "c2", 0, c2 + sec, llm_provider="ollama", tts_provider="elevenlabs",
                       tts_chars=30, reply_ms=600.0, first_audio_ms=1000.0),
                _caller(alfa, "c3", 0, c3 + sec),
                _agent(alfa, "c3", 1, c3 + 2 * sec, llm_provider="ollama",
                       tts_provider="offline:pico", tts_chars=80, reply_ms=1000.0,
                       first_audio_ms=1500.0),
                _agent(alfa, "c7", 0, utc(2026, 3, 29, 10, 0, 5), llm_provider="ollama",
                       tts_provider="elevenlabs", tts_chars=1000, reply_ms=5000.0,
                       first_audio_ms=5000.0),
                _agent(beta, "b1", 0, utc(2026, 3, 29, 10, 0, 5), llm_provider="ollama",
                       tts_provider="elevenlabs", tts_chars=777, reply_ms=9000.0,
                       first_audio_ms=9000.0),
            ]
        )  # fmt: skip
        s.add_all(
            [
                CallSentiment(call_id="c1", tenant_id=alfa, label="positive", confidence=0.9),
                CallSentiment(call_id="c2", tenant_id=alfa, label="negative", confidence=0.7),
                CallSentiment(call_id="c3", tenant_id=alfa, label="neutral", confidence=0.6),
                CallSentiment(call_id="c7", tenant_id=alfa, label="positive", confidence=0.9),
                CallSentiment(call_id="b1", tenant_id=beta, label="negative", confidence=0.9),
            ]
        )
    return alfa, beta
