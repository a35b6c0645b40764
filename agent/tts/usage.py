"""Characters sent to each TTS provider, per tenant (cost analytics)."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class UsageCount:
    chars: int = 0  # characters billed by the provider (cache hits excluded)
    requests: int = 0
    cached_hits: int = 0
    cached_chars: int = 0  # characters served from the cache (cost avoided)


class TTSUsage:
    """Process-wide counters; pass one instance to the providers that should record."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int | None], UsageCount] = {}

    def record(
        self, provider: str, tenant_id: int | None, chars: int, cached: bool = False
    ) -> None:
        with self._lock:
            count = self._counts.setdefault((provider, tenant_id), UsageCount())
            if cached:
                count.cached_hits += 1
                count.cached_chars += chars
            else:
                count.requests += 1
                count.chars += chars

    def get(self, provider: str, tenant_id: int | None) -> UsageCount:
        with self._lock:
            c = self._counts.get((provider, tenant_id), UsageCount())
            return UsageCount(c.chars, c.requests, c.cached_hits, c.cached_chars)

    def rows(self) -> list[dict[str, object]]:
        """[{"provider", "tenant_id", "chars", "requests", "cached_hits", "cached_chars"}]"""
        with self._lock:
            return [
                {"provider": p, "tenant_id": t, **vars(c)}
                for (p, t), c in sorted(
                    self._counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)
                )
            ]
