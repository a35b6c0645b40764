"""The client editor's form: parse, validate, and turn into a tenant spec.

Every problem is reported under the name of the form field it belongs to, so
the page shows it next to that field. Nothing is saved unless the whole form
is valid (the view only calls ``TenantService.upsert`` with no errors).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import available_timezones

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from centralino.tenants.models import Tenant
from centralino.tenants.phone import InvalidPhoneNumber, normalize_e164

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Upper bounds keep one agency from storing megabytes of text in a setting and
# keep the LLM prompt within a sensible context size.
LIMITS = {
    "name": 200,
    "greeting": 1000,
    "prompt_template": 8000,
    "question": 300,
    "question_key": 40,
    "faq_question": 300,
    "faq_answer": 1500,
    "list_item": 100,
    "voice_id": 100,
    "delivery": 20000,
}
MAX_QUESTIONS = 30
MAX_FAQ = 50

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-3]):([0-5]\d)$")


@dataclass
class ClientForm:
    """The editor's values as shown on the page (also when invalid)."""

    slug: str = ""
    name: str = ""
    active: bool = True
    numbers: str = ""
    greeting: str = ""
    prompt_template: str = ""
    questions: list[dict[str, Any]] = field(default_factory=list)
    faq: list[dict[str, Any]] = field(default_factory=list)
    zones: str = ""
    premium_zones: str = ""
    vocabulary: str = ""
    voice_provider: str = "offline"
    voice_id: str = ""
    voice_stability: str = "0.5"
    voice_similarity: str = "0.75"
    voice_offline: str = ""
    hours: dict[str, str] = field(default_factory=dict)
    holidays: str = ""
    transfer_number: str = ""
    timezone: str = "Europe/Rome"
    delivery: str = ""

    @classmethod
    def from_tenant(cls, t: Tenant) -> ClientForm:
        voice = t.voice or {}
        settings = t.settings or {}
        return cls(
            slug=t.slug,
            name=t.name,
            active=bool(t.active),
            numbers="\n".join(n.e164 for n in t.numbers),
            greeting=t.greeting or "",
            prompt_template=t.prompt_template or "",
            questions=[dict(q) for q in t.questions or []],
            faq=[dict(f) for f in t.faq or []],
            zones="\n".join(t.zones or []),
            premium_zones="\n".join(t.premium_zones or []),
            vocabulary="\n".join(t.vocabulary or []),
            voice_provider=str(voice.get("provider", "offline")),
            voice_id=str(voice.get("voice_id", "")),
            voice_stability=str(voice.get("stability", 0.5)),
            voice_similarity=str(voice.get("similarity", 0.75)),
            voice_offline=str(voice.get("offline_voice", "")),
            hours={d: format_ranges((t.business_hours or {}).get(d, [])) for d in DAYS},
            holidays="\n".join(t.holidays or []),
            transfer_number=t.transfer_number or "",
            timezone=t.timezone or "Europe/Rome",
            delivery=json.dumps(settings["delivery"], indent=2, ensure_ascii=False)
            if settings.get("delivery")
            else "",
        )

    @classmethod
    def from_request(cls, form: MultiDict[str, str]) -> ClientForm:
        keys = form.getlist("q_key")
        texts = form.getlist("q_text")
        required = form.getlist("q_required")
        questions = [
            {
                "key": keys[i].strip() if i < len(keys) else "",
                "text": texts[i].strip() if i < len(texts) else "",
                "required": (required[i] if i < len(required) else "1") == "1",
            }
            for i in range(max(len(keys), len(texts)))
        ]
        fq, fa = form.getlist("faq_question"), form.getlist("faq_answer")
        faq = [
            {
                "question": fq[i].strip() if i < len(fq) else "",
                "answer": fa[i].strip() if i < len(fa) else "",
            }
            for i in range(max(len(fq), len(fa)))
        ]
        return cls(
            slug=form.get("slug", "").strip(),
            name=form.get("name", "").strip(),
            active=form.get("active") == "1",
            numbers=form.get("numbers", ""),
            greeting=form.get("greeting", "").strip(),
            prompt_template=form.get("prompt_template", "").strip(),
            questions=questions,
            faq=faq,
            zones=form.get("zones", ""),
            premium_zones=form.get("premium_zones", ""),
            vocabulary=form.get("vocabulary", ""),
            voice_provider=form.get("voice_provider", "offline"),
            voice_id=form.get("voice_id", "").strip(),
            voice_stability=form.get("voice_stability", "0.5").strip(),
            voice_similarity=form.get("voice_similarity", "0.75").strip(),
            voice_offline=form.get("voice_offline", "").strip(),
            hours={d: form.get(f"hours_{d}", "").strip() for d in DAYS},
            holidays=form.get("holidays", ""),
            transfer_number=form.get("transfer_number", "").strip(),
            timezone=form.get("timezone", "Europe/Rome").strip(),
            delivery=form.get("delivery", "").strip(),
        )


def format_ranges(ranges: list[list[str]]) -> str:
    return ", ".join(f"{a}-{b}" for a, b in ranges)


def lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _too_long(value: str, limit_key: str) -> str:
    limit = LIMITS[limit_key]
    if len(value) > limit:
        return _("At most %(limit)s characters (now %(count)s).", limit=limit, count=len(value))
    return ""


def validate(
    form: ClientForm,
    *,
    new: bool,
    prompt_errors: list[str],
    delivery_parser: Any | None,
    existing_settings: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (data for ``parse_spec``, errors by field name)."""
    errors: dict[str, str] = {}
    if new and not _SLUG.match(form.slug):
        errors["slug"] = _("Use lowercase letters, digits and '-' (e.g. rossi-immobiliare).")
    if not form.name:
        errors["name"] = _("The name is required.")
    elif msg := _too_long(form.name, "name"):
        errors["name"] = msg

    numbers: list[str] = []
    for raw in lines(form.numbers):
        try:
            e164 = normalize_e164(raw)
        except InvalidPhoneNumber:
            errors["numbers"] = _(
                "%(number)s is not a valid phone number (e.g. +390212345678).", number=raw
            )
            break
        if e164 in numbers:
            errors["numbers"] = _("%(number)s is listed twice.", number=e164)
            break
        numbers.append(e164)

    if msg := _too_long(form.greeting, "greeting"):
        errors["greeting"] = msg
    if not form.prompt_template:
        errors["prompt_template"] = _("The prompt template is required.")
    elif msg := _too_long(form.prompt_template, "prompt_template"):
        errors["prompt_template"] = msg
    elif prompt_errors:
        errors["prompt_template"] = "; ".join(prompt_errors)

    questions: list[dict[str, Any]] = []
    if not form.questions:
        errors["questions"] = _("Add at least one question.")
    if len(form.questions) > MAX_QUESTIONS:
        errors["questions"] = _("At most %(n)s questions.", n=MAX_QUESTIONS)
    seen_keys: set[str] = set()
    for i, q in enumerate(form.questions):
        text, key = q["text"], q["key"] or _key_from_text(q["text"], i)
        if not text:
            errors[f"q-{i}"] = _("The question cannot be empty.")
        elif msg := _too_long(text, "question"):
            errors[f"q-{i}"] = msg
        elif not _KEY.match(key):
            errors[f"q-{i}"] = _(
                "The field name must be lowercase letters, digits and '_' (e.g. budget)."
            )
        elif key in seen_keys:
            errors[f"q-{i}"] = _("The field name %(key)s is used twice.", key=key)
        seen_keys.add(key)
        questions.append({"key": key, "text": text, "required": bool(q["required"])})
    if any(k.startswith("q-") for k in errors):
        errors.setdefault("questions", _("Fix the questions marked below."))

    faq: list[dict[str, str]] = []
    if len(form.faq) > MAX_FAQ:
        errors["faq"] = _("At most %(n)s answers.", n=MAX_FAQ)
    for i, f in enumerate(form.faq):
        if not f["question"] or not f["answer"]:
            errors[f"faq-{i}"] = _("Both the topic and the answer are required.")
        elif msg := _too_long(f["question"], "faq_question") or _too_long(
            f["answer"], "faq_answer"
        ):
            errors[f"faq-{i}"] = msg
        faq.append({"question": f["question"], "answer": f["answer"]})

    zone_lists: dict[str, list[str]] = {}
    for name in ("zones", "premium_zones", "vocabulary"):
        items = lines(getattr(form, name))
        if any(len(item) > LIMITS["list_item"] for item in items) or len(items) > 500:
            errors[name] = _(
                "At most 500 lines of %(limit)s characters.", limit=LIMITS["list_item"]
            )
        zone_lists[name] = items

    voice: dict[str, Any] = {"provider": form.voice_provider}
    if form.voice_provider not in ("elevenlabs", "offline"):
        errors["voice_provider"] = _("Choose ElevenLabs or the offline voice.")
    if form.voice_provider == "elevenlabs" and not form.voice_id:
        errors["voice_id"] = _("The ElevenLabs voice id is required.")
    elif msg := _too_long(form.voice_id, "voice_id"):
        errors["voice_id"] = msg
    for name in ("stability", "similarity"):
        raw = getattr(form, f"voice_{name}")
        try:
            value = float(raw.replace(",", "."))
            if not 0.0 <= value <= 1.0:
                raise ValueError
            voice[name] = value
        except ValueError:
            errors[f"voice_{name}"] = _("A number between 0 and 1.")
    if form.voice_id:
        voice["voice_id"] = form.voice_id
    if form.voice_offline:
        if len(form.voice_offline) > LIMITS["voice_id"]:
            errors["voice_offline"] = _too_long(form.voice_offline, "voice_id")
        voice["offline_voice"] = form.voice_offline

    hours: dict[str, list[list[str]]] = {}
    for day in DAYS:
        ranges: list[list[str]] = []
        for part in [p.strip() for p in form.hours.get(day, "").split(",") if p.strip()]:
            m = _RANGE.match(part)
            if not m or (m.group(1), m.group(2)) >= (m.group(3), m.group(4)):
                errors[f"hours_{day}"] = _("Write the opening hours like 09:00-13:00, 14:30-19:00.")
                break
            ranges.append([f"{m.group(1)}:{m.group(2)}", f"{m.group(3)}:{m.group(4)}"])
        hours[day] = ranges

    holidays: list[str] = []
    for raw in lines(form.holidays):
        try:
            holidays.append(date.fromisoformat(raw).isoformat())
        except ValueError:
            errors["holidays"] = _("%(value)s is not a date (YYYY-MM-DD).", value=raw)
            break

    if form.transfer_number:
        try:
            normalize_e164(form.transfer_number)
        except InvalidPhoneNumber:
            errors["transfer_number"] = _(
                "%(number)s is not a valid phone number.", number=form.transfer_number
            )
    if form.timezone not in available_timezones():
        errors["timezone"] = _("Unknown time zone.")

    settings = dict(existing_settings or {})
    if form.delivery:
        if msg := _too_long(form.delivery, "delivery"):
            errors["delivery"] = msg
        else:
            try:
                delivery = json.loads(form.delivery)
            except json.JSONDecodeError as exc:
                errors["delivery"] = _("Not valid JSON: %(error)s", error=str(exc))
            else:
                if not isinstance(delivery, dict):
                    errors["delivery"] = _("Expected a JSON object.")
                elif delivery_parser is not None:
                    try:
                        delivery_parser(delivery)
                    except ValueError as exc:
                        errors["delivery"] = str(exc)
                settings["delivery"] = delivery
    else:
        settings.pop("delivery", None)

    data = {
        "slug": form.slug,
        "name": form.name,
        "numbers": numbers,
        "greeting": form.greeting,
        "prompt_template": form.prompt_template,
        "questions": questions,
        "faq": faq,
        "voice": voice,
        "business_hours": hours,
        "holidays": holidays,
        "transfer_number": form.transfer_number,
        "timezone": form.timezone,
        "settings": settings,
        **zone_lists,
    }
    return data, errors


def _key_from_text(text: str, index: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:30]
    if not slug or not slug[0].isalpha():
        slug = f"q{index + 1}_{slug}".strip("_")
    return slug[:40]


def tenant_dict(data: dict[str, Any], numbers: list[str] | None = None) -> dict[str, Any]:
    """The tenant as the dialogue engine takes it (``make_dialogue``, ``render_prompt``)."""
    out = dict(data)
    if numbers is not None:
        out["numbers"] = numbers
    return out


def tenant_to_dict(t: Tenant) -> dict[str, Any]:
    return {
        "id": t.id,
        "slug": t.slug,
        "name": t.name,
        "active": bool(t.active),
        "language": t.language,
        "timezone": t.timezone,
        "greeting": t.greeting,
        "prompt_template": t.prompt_template,
        "questions": [dict(q) for q in t.questions or []],
        "faq": [dict(f) for f in t.faq or []],
        "zones": list(t.zones or []),
        "premium_zones": list(t.premium_zones or []),
        "vocabulary": list(t.vocabulary or []),
        "voice": dict(t.voice or {}),
        "business_hours": dict(t.business_hours or {}),
        "holidays": list(t.holidays or []),
        "transfer_number": t.transfer_number,
        "settings": dict(t.settings or {}),
        "numbers": [n.e164 for n in t.numbers],
    }
