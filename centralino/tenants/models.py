"""Tenants (agencies) and the phone numbers (DIDs) that reach them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from centralino.db.base import Base, UTCDateTime, utcnow


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(8), default="it")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Rome")
    greeting: Mapped[str] = mapped_column(Text, default="")
    prompt_template: Mapped[str] = mapped_column(Text, default="")
    # Ordered list of {"key": str, "text": str, "required": bool}.
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # List of {"question": str, "answer": str}.
    faq: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    zones: Mapped[list[str]] = mapped_column(JSON, default=list)
    premium_zones: Mapped[list[str]] = mapped_column(JSON, default=list)
    vocabulary: Mapped[list[str]] = mapped_column(JSON, default=list)
    # {"provider": "elevenlabs"|"offline", "voice_id": str, "stability": float, ...}
    voice: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {"mon": [["09:00","13:00"],["14:30","19:00"]], ...}; holidays: ["2026-12-25", ...]
    business_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)
    transfer_number: Mapped[str] = mapped_column(String(32), default="")
    # Free-form per-area settings (delivery targets, CRM mapping, scoring, tariffs).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    numbers: Mapped[list[PhoneNumber]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan", order_by="PhoneNumber.e164"
    )

    def __repr__(self) -> str:
        return f"<Tenant {self.slug}>"


class PhoneNumber(Base):
    __tablename__ = "phone_numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    # E.164 ("+390212345678"); unique across all tenants so a DID routes to one agency.
    e164: Mapped[str] = mapped_column(String(20), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")

    tenant: Mapped[Tenant] = relationship(back_populates="numbers")
