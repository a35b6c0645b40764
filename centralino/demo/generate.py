"""Synthetic calls, turns, leads and sentiment for one tenant, written in bulk.

Used by ``centralino demo-data`` (a few thousand calls with Italian transcripts)
and by ``bench/analytics.py`` (a million calls over 12 months). Rows are built
in chunks and written with ``executemany`` on SQLite and ``COPY`` on
PostgreSQL; nothing goes through the ORM, which would be 20x slower.

The shape is realistic enough for the charts to mean something: calls cluster
in office hours on weekdays, about a third become leads, scores come from the
delivery area's scoring rules (``centralino.scoring.score_lead``), a few turns
are served by the offline fallbacks.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from centralino.calls.models import Call, Turn
from centralino.db.session import Database
from centralino.leads.models import Lead
from centralino.scoring import ScoringSettings, parse_scoring_settings, score_lead
from centralino.sentiment.models import CallSentiment

log = logging.getLogger(__name__)

# Relative weight of each local hour (office hours dominate, a few evening calls).
HOUR_WEIGHTS = [0, 0, 0, 0, 0, 0, 0, 1, 4, 10, 12, 11, 8, 4, 6, 9, 10, 9, 7, 4, 2, 1, 0, 0]
WEEKDAY_WEIGHTS = [10, 10, 10, 10, 9, 5, 1]  # Monday .. Sunday
FIRST_NAMES = [
    "Mario",
    "Giulia",
    "Luca",
    "Francesca",
    "Marco",
    "Chiara",
    "Paolo",
    "Sara",
    "Andrea",
    "Elena",
    "Giorgio",
]
LAST_NAMES = [
    "Rossi",
    "Bianchi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Conti",
]
REQUESTS = [("buy", 45), ("rent", 25), ("sell", 20), ("valuation", 10)]
PROPERTIES = ["bilocale", "trilocale", "monolocale", "attico", "villa", "quadrilocale"]
URGENCY = [("high", 20), ("medium", 45), ("low", 35)]
CALLER_LINES = {
    "buy": "Buongiorno, vorrei comprare un {prop} in zona {zone}, budget sui {budget} euro.",
    "rent": "Salve, cerco un {prop} in affitto a {zone}.",
    "sell": "Buongiorno, devo vendere il mio {prop} in zona {zone}.",
    "valuation": "Vorrei una valutazione del mio {prop} a {zone}.",
}
URGENT_LINES = ["È piuttosto urgente, mi servirebbe subito.", "Ho bisogno entro questa settimana."]
CALM_LINES = ["Non ho fretta, sto iniziando a guardarmi intorno.", "Entro qualche mese."]
AGENT_LINES = [
    "Perfetto, posso sapere il suo nome e cognome?",
    "In quale zona sta cercando?",
    "Qual è il suo budget indicativo?",
    "In che orario preferisce essere richiamato?",
    "Grazie, la faremo richiamare al più presto da un nostro agente.",
]
SENTIMENT = [("positive", 45), ("neutral", 40), ("negative", 15)]
# A closing line that carries the call's mood, so demo transcripts and demo
# sentiment agree (real calls get theirs from centralino.sentiment).
MOOD_LINES = {
    "positive": [
        "Perfetto, grazie mille, siete stati gentilissimi.",
        "Ottimo, aspetto la chiamata!",
    ],
    "neutral": ["Va bene.", "D'accordo, aspetto la chiamata."],
    "negative": [
        "È la terza volta che chiamo, sono stufo.",
        "Speriamo che stavolta mi richiamiate.",
    ],
}


@dataclass
class GenerateSpec:
    tenant_id: int
    calls: int
    end: date
    days: int = 365
    timezone: str = "Europe/Rome"
    zones: Sequence[str] = ("Navigli", "Brera", "Isola", "Porta Romana", "Città Studi")
    premium_zones: Sequence[str] = ("Brera",)
    scoring: dict[str, Any] | None = None
    did: str = "+390212345678"
    seed: int = 1
    # Demo data has transcripts; the benchmark skips the text to stay fast.
    transcripts: bool = True
    chunk: int = 20_000
    lead_rate: float = 0.34
    stats: dict[str, int] = field(default_factory=dict)


def _weighted(rng: random.Random, pairs: Sequence[tuple[str, int]]) -> str:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def _start_times(spec: GenerateSpec, rng: random.Random) -> list[datetime]:
    tz = ZoneInfo(spec.timezone)
    first = spec.end - timedelta(days=spec.days - 1)
    days = [first + timedelta(days=i) for i in range(spec.days)]
    day_w = [WEEKDAY_WEIGHTS[d.weekday()] for d in days]
    picked_days = rng.choices(days, weights=day_w, k=spec.calls)
    hours = rng.choices(range(24), weights=HOUR_WEIGHTS, k=spec.calls)
    out = []
    for d, h in zip(picked_days, hours, strict=True):
        local = datetime.combine(d, time(h, rng.randrange(60), rng.randrange(60)), tz)
        out.append(local.astimezone(UTC))
    out.sort()
    return out


class _Writer:
    """Appends rows to a table with the fastest path the backend has."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pg = db.engine.dialect.name == "postgresql"

    def write(self, conn: Any, table: Any, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.pg:
            cols = ", ".join(f'"{c}"' for c in columns)
            with conn.cursor() as cur, cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as cp:
                for row in rows:
                    cp.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            cols = ", ".join(f'"{c}"' for c in columns)
            conn.executemany(f'INSERT INTO "{table.name}" ({cols}) VALUES ({marks})', rows)


def _ts(value: datetime, pg: bool) -> Any:
    # SQLite stores the UTC wall time as text, exactly as UTCDateTime writes it.
    return value if pg else value.strftime("%Y-%m-%d %H:%M:%S.%f")


CALL_COLS = ["id", "tenant_id", "channel_id", "sip_call_id", "caller_id", "caller_name", "did",
             "started_at", "answered_at", "ended_at", "duration_s", "state", "outcome",
             "hangup_cause", "hangup_code", "recording_path", "caller_audio_s", "simulated",
             "data"]  # fmt: skip
TURN_COLS = ["call_id", "tenant_id", "index", "speaker", "text", "at", "stt_confidence",
             "stt_provider", "llm_provider", "tts_provider", "tts_chars", "stt_ms", "reply_ms",
             "first_audio_ms", "data"]  # fmt: skip
LEAD_COLS = ["tenant_id", "call_id", "created_at", "name", "phone", "request_type",
             "property_type", "zone", "budget_min", "budget_max", "urgency", "callback_time",
             "notes", "transcript", "confidence", "score", "score_reasons", "status"]  # fmt: skip
SENT_COLS = ["call_id", "tenant_id", "label", "confidence", "scores", "model", "computed_at"]


def generate(db: Database, spec: GenerateSpec) -> dict[str, int]:
    """Write ``spec.calls`` calls (with turns, leads, sentiment) for one tenant."""
    rng = random.Random(spec.seed)
    writer = _Writer(db)
    pg = writer.pg
    scoring: ScoringSettings = parse_scoring_settings(spec.scoring)
    score_cache: dict[tuple[Any, ...], tuple[int, str]] = {}
    starts = _start_times(spec, rng)
    counts = {"calls": 0, "turns": 0, "leads": 0, "sentiment": 0}
    empty = "{}"
    raw = db.engine.raw_connection()
    conn: Any = raw.driver_connection
    try:
        if not pg:
            # Bulk load: durability of a half-written demo set does not matter.
            conn.execute("PRAGMA synchronous=OFF")
        for chunk_start in range(0, len(starts), spec.chunk):
            calls: list[tuple[Any, ...]] = []
            turns: list[tuple[Any, ...]] = []
            leads: list[tuple[Any, ...]] = []
            sentiments: list[tuple[Any, ...]] = []
            for started in starts[chunk_start : chunk_start + spec.chunk]:
                cid = uuid.UUID(int=rng.getrandbits(128)).hex
                caller = f"+393{rng.randrange(10**8, 10**9)}"
                answered = rng.random() > 0.06
                duration = round(rng.lognormvariate(4.9, 0.45), 1) if answered else None
                end = started + timedelta(seconds=duration or rng.randrange(5, 25))
                is_lead = answered and rng.random() < spec.lead_rate / 0.94
                outcome = "lead" if is_lead else ("completed" if answered else "abandoned")
                calls.append(
                    (cid, spec.tenant_id, f"demo-{cid[:12]}", "", caller, "", spec.did,
                     _ts(started, pg), _ts(started, pg) if answered else None, _ts(end, pg),
                     duration, "ended", outcome, "normal" if answered else "caller hangup",
                     16, "", round(duration * 0.45, 1) if duration else None, False, empty)
                )  # fmt: skip
                if not answered or duration is None:
                    continue
                exchanges = max(1, min(6, int(duration // 45)))
                request = _weighted(rng, REQUESTS)
                zone = rng.choice(list(spec.zones))
                prop = rng.choice(PROPERTIES)
                budget = rng.randrange(12, 90) * 10_000 if request == "buy" else None
                urgency = _weighted(rng, URGENCY)
                caller_text = CALLER_LINES[request].format(
                    prop=prop, zone=zone, budget=f"{budget:,}".replace(",", ".") if budget else ""
                )
                extra = rng.choice(URGENT_LINES if urgency == "high" else CALM_LINES)
                label = _weighted(rng, SENTIMENT)
                mood = rng.choice(MOOD_LINES[label])
                at = started + timedelta(seconds=1)
                idx = 0
                for n in range(exchanges):
                    offline_tts = rng.random() < 0.07
                    rules = rng.random() < 0.12
                    reply = rng.lognormvariate(6.7, 0.35)
                    text = AGENT_LINES[min(n, len(AGENT_LINES) - 1)] if spec.transcripts else ""
                    chars = len(text) if text else rng.randrange(40, 140)
                    if n:
                        lines = (caller_text, extra, "Sì, esatto.", "Sì.", mood)
                        said = lines[n - 1 if n < exchanges - 1 else -1] if spec.transcripts else ""
                        turns.append(
                            (cid, spec.tenant_id, idx, "caller", said, _ts(at, pg),
                             round(rng.uniform(0.7, 0.98), 2), "whisper", "", "", 0,
                             round(rng.uniform(180, 520), 1), None, None, empty)
                        )  # fmt: skip
                        idx += 1
                        at += timedelta(seconds=rng.randrange(3, 12))
                    turns.append(
                        (cid, spec.tenant_id, idx, "agent", text, _ts(at, pg), None, "",
                         "rules" if rules else "ollama",
                         "offline:pico" if offline_tts else "elevenlabs", chars, None,
                         round(reply, 1), round(reply + rng.uniform(250, 650), 1), empty)
                    )  # fmt: skip
                    idx += 1
                    at += timedelta(seconds=rng.randrange(4, 15))
                conf = round(rng.uniform(0.45, 0.95), 3)
                sentiments.append(
                    (cid, spec.tenant_id, label, conf, json.dumps({label: conf}), "demo",
                     _ts(end, pg))
                )  # fmt: skip
                if not is_lead:
                    continue
                urgent_said = urgency == "high"
                key = (budget, zone, urgency, urgent_said)
                if key not in score_cache:
                    score = score_lead(
                        {"budget_min": budget, "budget_max": budget, "zone": zone,
                         "urgency": urgency},
                        [caller_text, extra] if urgent_said else [caller_text],
                        list(spec.premium_zones),
                        scoring,
                    )  # fmt: skip
                    score_cache[key] = (score.value, json.dumps(score.reasons_as_dicts()))
                value, reasons = score_cache[key]
                # One lead in eight misses a required field (no zone): not converted.
                lead_zone = "" if rng.random() < 0.12 else zone
                name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                transcript = f"{caller_text} {extra}" if spec.transcripts else ""
                leads.append(
                    (spec.tenant_id, cid, _ts(end, pg), name, caller, request, prop, lead_zone,
                     budget, budget, urgency, rng.choice(["mattina", "pomeriggio", "sera"]), "",
                     transcript, empty, value, reasons, "new")
                )  # fmt: skip
            writer.write(conn, Call.__table__, CALL_COLS, calls)
            writer.write(conn, Turn.__table__, TURN_COLS, turns)
            writer.write(conn, Lead.__table__, LEAD_COLS, leads)
            writer.write(conn, CallSentiment.__table__, SENT_COLS, sentiments)
            raw.commit()
            counts["calls"] += len(calls)
            counts["turns"] += len(turns)
            counts["leads"] += len(leads)
            counts["sentiment"] += len(sentiments)
        if not pg:
            conn.execute("PRAGMA synchronous=NORMAL")
    finally:
        raw.close()
    log.info("generated %s for tenant %s", counts, spec.tenant_id)
    return counts
