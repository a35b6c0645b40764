"""GET/PATCH of a tenant's receptionist settings, validated exactly as in the admin.

A PATCH is applied to the admin's own ``ClientForm`` (built from the stored
tenant) and checked by the admin's ``validate`` with the dialogue engine's
prompt validation, then by ``centralino.tenants.service.parse_spec`` - the same
three layers the client editor runs. Only then is anything written.
"""

from __future__ import annotations

from typing import Any

from admin_web.api.errors import ApiError
from admin_web.clients.form import DAYS, LIMITS, MAX_QUESTIONS, ClientForm, validate
from centralino.analytics.costs import CostSettingsError, parse_costs
from centralino.tenants.models import Tenant

CONFIG_FIELDS = {
    "greeting",
    "prompt_template",
    "questions",
    "voice",
    "business_hours",
    "holidays",
    "timezone",
    "costs",
}
VOICE_FIELDS = {"provider", "voice_id", "stability", "similarity", "offline_voice"}
QUESTION_FIELDS = {"key", "text", "required"}


def config_of(t: Tenant) -> dict[str, Any]:
    voice = t.voice or {}
    return {
        "greeting": t.greeting or "",
        "prompt_template": t.prompt_template or "",
        "questions": [
            {
                "key": str(q.get("key", "")),
                "text": str(q.get("text", "")),
                "required": bool(q.get("required", False)),
            }
            for q in t.questions or []
        ],
        "voice": {
            "provider": str(voice.get("provider", "offline")),
            "voice_id": str(voice.get("voice_id", "")),
            "stability": float(voice.get("stability", 0.5)),
            "similarity": float(voice.get("similarity", 0.75)),
            "offline_voice": str(voice.get("offline_voice", "")),
        },
        "business_hours": {
            d: [[str(a), str(b)] for a, b in (t.business_hours or {}).get(d, [])] for d in DAYS
        },
        "holidays": [str(h) for h in t.holidays or []],
        "timezone": t.timezone or "Europe/Rome",
        "costs": parse_costs((t.settings or {}).get("costs")).as_dict(),
    }


def _type_error(field: str, what: str) -> ApiError:
    return ApiError(400, f"'{field}' must be {what}", field)


def _apply(form: ClientForm, patch: dict[str, Any]) -> None:
    """Copy the JSON patch onto the form, checking JSON types (values come later)."""
    for key in ("greeting", "prompt_template", "timezone"):
        if key in patch:
            if not isinstance(patch[key], str):
                raise _type_error(key, "a string")
            setattr(form, key, patch[key].strip())
    if "questions" in patch:
        raw = patch["questions"]
        if not isinstance(raw, list):
            raise _type_error("questions", "a list of questions")
        if len(raw) > MAX_QUESTIONS:
            raise ApiError(422, f"at most {MAX_QUESTIONS} questions", "questions")
        questions = []
        for i, q in enumerate(raw):
            where = f"questions[{i}]"
            if not isinstance(q, dict):
                raise _type_error(where, "an object")
            unknown = sorted(set(q) - QUESTION_FIELDS)
            if unknown:
                raise ApiError(
                    400, f"unknown field '{where}.{unknown[0]}'", f"{where}.{unknown[0]}"
                )
            if not isinstance(q.get("text"), str):
                raise _type_error(f"{where}.text", "a string")
            if not isinstance(q.get("key", ""), str):
                raise _type_error(f"{where}.key", "a string")
            if not isinstance(q.get("required", True), bool):
                raise _type_error(f"{where}.required", "true or false")
            questions.append(
                {
                    "key": q.get("key", "").strip(),
                    "text": q["text"].strip(),
                    "required": q.get("required", True),
                }
            )
        form.questions = questions
    if "voice" in patch:
        voice = patch["voice"]
        if not isinstance(voice, dict):
            raise _type_error("voice", "an object")
        unknown = sorted(set(voice) - VOICE_FIELDS)
        if unknown:
            raise ApiError(400, f"unknown field 'voice.{unknown[0]}'", f"voice.{unknown[0]}")
        for key, attr in (
            ("provider", "voice_provider"),
            ("voice_id", "voice_id"),
            ("offline_voice", "voice_offline"),
        ):
            if key in voice:
                if not isinstance(voice[key], str):
                    raise _type_error(f"voice.{key}", "a string")
                setattr(form, attr, voice[key].strip())
        for key in ("stability", "similarity"):
            if key in voice:
                value = voice[key]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise _type_error(f"voice.{key}", "a number")
                setattr(form, f"voice_{key}", repr(float(value)))
    if "business_hours" in patch:
        hours = patch["business_hours"]
        if not isinstance(hours, dict):
            raise _type_error("business_hours", "an object with days mon..sun")
        unknown = sorted(set(hours) - set(DAYS))
        if unknown:
            raise ApiError(
                400, f"unknown day 'business_hours.{unknown[0]}'", f"business_hours.{unknown[0]}"
            )
        for day, ranges in hours.items():
            where = f"business_hours.{day}"
            ok = isinstance(ranges, list) and all(
                isinstance(r, list) and len(r) == 2 and all(isinstance(x, str) for x in r)
                for r in ranges
            )
            if not ok:
                raise _type_error(where, 'a list of ["HH:MM", "HH:MM"] pairs')
            if len(ranges) > 6:
                raise ApiError(422, "at most 6 ranges a day", where)
            form.hours[day] = ", ".join(f"{a.strip()}-{b.strip()}" for a, b in ranges)
    if "holidays" in patch:
        holidays = patch["holidays"]
        if not isinstance(holidays, list) or not all(isinstance(h, str) for h in holidays):
            raise _type_error("holidays", "a list of dates YYYY-MM-DD")
        if len(holidays) > 100 or any("\n" in h or len(h) > 20 for h in holidays):
            raise ApiError(422, "at most 100 dates YYYY-MM-DD", "holidays")
        form.holidays = "\n".join(h.strip() for h in holidays)


# Admin form field name -> the API's name for it.
def _api_field(form_field: str) -> str:
    if form_field.startswith("hours_"):
        return f"business_hours.{form_field[6:]}"
    if form_field.startswith("q-"):
        return f"questions[{form_field[2:]}]"
    if form_field == "voice_provider":
        return "voice.provider"
    if form_field == "voice_id":
        return "voice.voice_id"
    if form_field == "voice_offline":
        return "voice.offline_voice"
    if form_field.startswith("voice_"):
        return f"voice.{form_field[6:]}"
    return form_field


def validated_update(
    tenant: Tenant, patch: dict[str, Any], prompt_validate: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(data for parse_spec, new settings) or ApiError(422) naming the field."""
    form = ClientForm.from_tenant(tenant)
    _apply(form, patch)
    for key in ("greeting", "prompt_template"):
        if len(getattr(form, key)) > LIMITS[key]:
            raise ApiError(422, f"'{key}' is longer than {LIMITS[key]} characters", key)
    settings = dict(tenant.settings or {})
    if "costs" in patch:
        try:
            settings["costs"] = parse_costs(patch["costs"]).as_dict()
        except CostSettingsError as exc:
            status = 400 if exc.field == "costs" or "unknown" in str(exc) else 422
            raise ApiError(status, str(exc), exc.field) from None
    prompt_errors = prompt_validate(form.prompt_template) if form.prompt_template else []
    data, errors = validate(
        form,
        new=False,
        prompt_errors=prompt_errors,
        delivery_parser=None,
        existing_settings=settings,
    )
    if errors:
        # Most specific first: "q-3" before the summary under "questions".
        name = sorted(errors, key=lambda k: (k == "questions", k))[0]
        raise ApiError(422, str(errors[name]), _api_field(name))
    data["settings"] = settings
    return data, settings
