"""Calls, their timeline events and conversation turns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from centralino.db.base import Base, UTCDateTime, new_id, utcnow


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # Null for a call to a DID no tenant owns (still logged).
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="SET NULL"), index=True, nullable=True
    )
    channel_id: Mapped[str] = mapped_column(String(128), default="", index=True)
    # SIP Call-ID of the inbound leg: lets the simulated caller find its own call.
    sip_call_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    caller_id: Mapped[str] = mapped_column(String(64), default="")
    caller_name: Mapped[str] = mapped_column(String(128), default="")
    did: Mapped[str] = mapped_column(String(32), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    # CallState value at the last update; "ended" once completed.
    state: Mapped[str] = mapped_column(String(20), default="ringing")
    # in_progress | completed | lead | unknown_did | abandoned | transferred | voicemail | failed
    outcome: Mapped[str] = mapped_column(String(20), default="in_progress", index=True)
    hangup_cause: Mapped[str] = mapped_column(String(64), default="")
    hangup_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recording_path: Mapped[str] = mapped_column(String(500), default="")
    caller_audio_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    events: Mapped[list[CallEvent]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="CallEvent.id"
    )
    turns: Mapped[list[Turn]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="Turn.index"
    )


class CallEvent(Base):
    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    call: Mapped[Call] = relationship(back_populates="events")


class Turn(Base):
    """One utterance by the caller or the agent, with its timings and providers."""

    __tablename__ = "turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    index: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(10))  # caller | agent
    text: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stt_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    stt_provider: Mapped[str] = mapped_column(String(40), default="")
    llm_provider: Mapped[str] = mapped_column(String(40), default="")
    tts_provider: Mapped[str] = mapped_column(String(40), default="")
    tts_chars: Mapped[int] = mapped_column(Integer, default=0)
    # Milliseconds from the end of the caller's speech.
    stt_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    reply_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    first_audio_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    call: Mapped[Call] = relationship(back_populates="turns")
