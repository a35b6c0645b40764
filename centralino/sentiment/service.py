"""Compute and store per-call sentiment after the call, off the event loop.

``SentimentService.run_pending()`` finds ended calls without a sentiment row
and classifies what the caller said; ``analyze_call_async`` does one call in a
worker thread for asyncio code; :class:`SentimentWorker` is a daemon thread
that polls, for processes that just want it done in the background.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from sqlalchemy import select

from centralino.calls.models import Call, Turn
from centralino.db.session import Database
from centralino.sentiment.classifier import MODEL_NAME, Sentiment, SentimentClassifier
from centralino.sentiment.models import CallSentiment

log = logging.getLogger(__name__)


class SentimentService:
    def __init__(self, db: Database, classifier: SentimentClassifier | None = None) -> None:
        self.db = db
        self.classifier = classifier or SentimentClassifier()

    def analyze_call(self, call_id: str) -> Sentiment | None:
        """Classify one call and store the result (replacing an older one)."""
        with self.db.session() as s:
            call = s.get(Call, call_id)
            if call is None:
                raise KeyError(call_id)
            tenant_id = call.tenant_id
            said = list(
                s.scalars(
                    select(Turn.text)
                    .where(Turn.call_id == call_id, Turn.speaker == "caller")
                    .order_by(Turn.index)
                )
            )
        result = self.classifier.classify_call(said)
        if result is None:
            return None
        with self.db.session() as s:
            row = s.get(CallSentiment, call_id)
            if row is None:
                row = CallSentiment(call_id=call_id, tenant_id=tenant_id)
                s.add(row)
            row.label = result.label
            row.confidence = result.confidence
            row.scores = result.scores
            row.model = MODEL_NAME
        return result

    async def analyze_call_async(self, call_id: str) -> Sentiment | None:
        return await asyncio.to_thread(self.analyze_call, call_id)

    def pending(self, tenant_id: int | None = None, limit: int = 100) -> list[str]:
        """Ended calls with caller speech and no sentiment yet, oldest first."""
        has_speech = select(Turn.id).where(Turn.call_id == Call.id, Turn.speaker == "caller")
        stmt = (
            select(Call.id)
            .outerjoin(CallSentiment, CallSentiment.call_id == Call.id)
            .where(Call.state == "ended", CallSentiment.call_id.is_(None), has_speech.exists())
            .order_by(Call.started_at)
            .limit(limit)
        )
        if tenant_id is not None:
            stmt = stmt.where(Call.tenant_id == tenant_id)
        with self.db.session() as s:
            return list(s.scalars(stmt))

    def run_pending(self, tenant_id: int | None = None, limit: int = 100) -> int:
        done = 0
        for call_id in self.pending(tenant_id, limit):
            try:
                if self.analyze_call(call_id) is not None:
                    done += 1
            except Exception:  # one bad call must not stop the batch
                log.exception("sentiment failed for call %s", call_id)
        return done


class SentimentWorker:
    """Daemon thread: every ``interval`` seconds, classify the calls that ended."""

    def __init__(self, service: SentimentService, interval: float = 30.0) -> None:
        self.service = service
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sentiment", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while self.service.run_pending(limit=50) == 50 and not self._stop.is_set():
                    pass
            except Exception:
                log.exception("sentiment worker pass failed")
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> SentimentWorker:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
