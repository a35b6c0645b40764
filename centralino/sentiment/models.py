"""Per-call sentiment, computed offline after the call (one row per call)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from centralino.db.base import Base, UTCDateTime, utcnow


class CallSentiment(Base):
    __tablename__ = "call_sentiments"

    call_id: Mapped[str] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    label: Mapped[str] = mapped_column(String(10))  # positive | neutral | negative
    confidence: Mapped[float] = mapped_column(Float)
    # {"positive": p, "neutral": p, "negative": p}
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model: Mapped[str] = mapped_column(String(60), default="")
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
