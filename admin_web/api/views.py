"""The ``/api/v1`` endpoints. Every query is scoped to the API key's tenant.

Another tenant's call or lead is reported as 404, never 403: an integrator
must not be able to learn which ids exist elsewhere.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException

from admin_web.api import auth
from admin_web.api.errors import ApiError, error_response
from admin_web.api.openapi import build_openapi
from admin_web.api.tenant_config import CONFIG_FIELDS, config_of, validated_update
from admin_web.api.validation import Query, boolean, json_object, string, string_list
from admin_web.services import current_services
from centralino.analytics.service import (
    AnalyticsError,
    AnalyticsService,
    DateRange,
    TenantContext,
)
from centralino.calls.models import Call, Turn
from centralino.db.base import new_id, utcnow
from centralino.leads.models import Lead
from centralino.sentiment.models import CallSentiment
from centralino.tenants.models import Tenant
from centralino.tenants.phone import InvalidPhoneNumber, normalize_e164
from centralino.tenants.service import TenantError, parse_spec

log = logging.getLogger(__name__)

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")


def _bad_text(value: str) -> bool:
    # NUL cannot be stored in PostgreSQL text; a lone UTF-16 surrogate is not text.
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _find_bad_text(data: Any, where: str) -> str | None:
    if isinstance(data, str):
        return where if _bad_text(data) else None
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{where}.{key}" if where else str(key)
            if _bad_text(str(key)):
                return where or "body"
            if found := _find_bad_text(value, here):
                return found
    if isinstance(data, list):
        for i, value in enumerate(data):
            if found := _find_bad_text(value, f"{where}[{i}]"):
                return found
    return None


@bp.before_request
def _refuse_unstorable_text() -> None:
    """Checked once for every endpoint, before any of them touches the database."""
    if _bad_text(request.path):
        raise ApiError(404, "no such resource")
    for key, value in request.args.items(multi=True):
        if _bad_text(key) or _bad_text(value):
            raise ApiError(400, f"'{key}' contains characters that are not text", key)
    if request.is_json:
        field = _find_bad_text(request.get_json(silent=True), "")
        if field is not None:
            raise ApiError(400, f"'{field}' contains characters that are not text", field)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    response = error_response(exc.status, exc.message, exc.field, exc.code)
    response.headers.update(exc.headers)
    return response


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return error_response(exc.code or 500, exc.description or exc.name)
    log.exception("API request failed: %s %s", request.method, request.path)
    return error_response(500, "internal error (logged on the server)")


OUTCOMES = (
    "in_progress", "completed", "lead", "unknown_did", "abandoned", "transferred", "voicemail",
    "failed",
)  # fmt: skip
LEAD_STATUSES = ("new", "contacted", "qualified", "won", "lost", "archived")
MAX_UTTERANCES = 30
MAX_UTTERANCE_CHARS = 500
DIALOGUE_TIMEOUT_S = 30.0
MAX_ID = 2**31 - 1  # leads.id is a 32-bit integer on PostgreSQL


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def _tenant(session: Any) -> Tenant:
    tenant = session.get(Tenant, g.api_key.tenant_id, options=[selectinload(Tenant.numbers)])
    if tenant is None:  # the key outlived its tenant (cascade should prevent it)
        raise ApiError(401, "the API key's agency no longer exists")
    return tenant


def _range(q: Query, tenant: Tenant) -> DateRange:
    start, end = q.day("from"), q.day("to")
    try:
        if start is None or end is None:
            today = datetime.now(ZoneInfo(tenant.timezone or "Europe/Rome")).date()
            end = end or (start + timedelta(days=29) if start else today)
            start = start or end - timedelta(days=29)
        return DateRange(start, end)
    except AnalyticsError as exc:
        raise ApiError(400, str(exc), exc.field) from None


def _page(
    stmt: Any, count_stmt: Any, page: int, per_page: int, session: Any
) -> tuple[list[Any], int]:
    total = int(session.scalar(count_stmt) or 0)
    rows = list(session.scalars(stmt.offset((page - 1) * per_page).limit(per_page)))
    return rows, total


def _paged(items: list[dict[str, Any]], page: int, per_page: int, total: int) -> Response:
    pages = (total + per_page - 1) // per_page
    return jsonify(
        items=items,
        page=page,
        per_page=per_page,
        total=total,
        next_page=page + 1 if page < pages else None,
    )


def call_json(call: Call, sentiment: CallSentiment | None, lead_id: int | None) -> dict[str, Any]:
    return {
        "id": call.id,
        "started_at": _iso(call.started_at),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "duration_s": call.duration_s,
        "caller_id": call.caller_id,
        "did": call.did,
        "outcome": call.outcome,
        "simulated": bool(call.simulated),
        "sentiment": (
            {"label": sentiment.label, "confidence": sentiment.confidence} if sentiment else None
        ),
        "lead_id": lead_id,
    }


def lead_json(lead: Lead) -> dict[str, Any]:
    return {
        "id": lead.id,
        "call_id": lead.call_id,
        "created_at": _iso(lead.created_at),
        "name": lead.name,
        "phone": lead.phone,
        "request_type": lead.request_type,
        "property_type": lead.property_type,
        "zone": lead.zone,
        "budget_min": lead.budget_min,
        "budget_max": lead.budget_max,
        "urgency": lead.urgency,
        "callback_time": lead.callback_time,
        "notes": lead.notes,
        "score": lead.score,
        "score_reasons": [
            {
                "rule": str(r.get("rule", "")),
                "points": int(r.get("points", 0)),
                "text": str(r.get("text", "")),
            }
            for r in lead.score_reasons or []
            if isinstance(r, dict)
        ],
        "status": lead.status,
    }


def _call_details(session: Any, calls: list[Call]) -> list[dict[str, Any]]:
    ids = [c.id for c in calls]
    sentiments = {
        s.call_id: s
        for s in session.scalars(select(CallSentiment).where(CallSentiment.call_id.in_(ids)))
    }
    leads = dict(session.execute(select(Lead.call_id, Lead.id).where(Lead.call_id.in_(ids))).all())
    return [call_json(c, sentiments.get(c.id), leads.get(c.id)) for c in calls]


# --------------------------------------------------------------------------- docs


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(build_openapi(request.host_url.rstrip("/")))


# --------------------------------------------------------------------------- stats


@bp.get("/stats")
@auth.require("read")
def stats() -> Response:
    q = Query(request, {"from", "to", "include_simulated"})
    include_simulated = bool(q.boolean("include_simulated", False))
    services = current_services()
    with services.db.session() as s:
        tenant = _tenant(s)
        rng = _range(q, tenant)
        try:
            ctx = TenantContext.from_tenant(tenant)
        except ValueError as exc:
            raise ApiError(422, f"the agency's cost settings are invalid: {exc}", "costs") from None
    report = AnalyticsService(services.db).report(ctx, rng, include_simulated)
    return jsonify(report.as_dict())


# --------------------------------------------------------------------------- config


@bp.get("/config")
@auth.require("read")
def get_config() -> Response:
    with current_services().db.session() as s:
        return jsonify(config_of(_tenant(s)))


@bp.patch("/config")
@auth.require("write")
def patch_config() -> Response:
    from admin_web.clients.form import tenant_to_dict
    from agent.dialogue.prompt import validate_template

    patch = json_object(request, CONFIG_FIELDS)
    services = current_services()
    with services.db.session() as s:
        tenant = _tenant(s)
        data, _settings = validated_update(tenant, patch, validate_template)
        try:
            spec = parse_spec(data)
        except TenantError as exc:
            raise ApiError(422, str(exc), exc.field or None) from None
        before = tenant_to_dict(tenant)
        services.tenants.upsert(spec, s)
        s.flush()
        s.refresh(tenant)
        services.accounts.audit(
            s,
            cast(Any, auth.ApiActor(g.api_key.prefix)),
            "tenant.update",
            "tenant",
            str(tenant.id),
            tenant_id=tenant.id,
            before=before,
            after=tenant_to_dict(tenant),
            ip=(request.remote_addr or "")[:64],
            note=f"API key {g.api_key.prefix}: {', '.join(sorted(patch))}",
        )
        return jsonify(config_of(tenant))


# --------------------------------------------------------------------------- logs and leads


@bp.get("/logs")
@auth.require("read")
def logs() -> Response:
    q = Query(request, {"from", "to", "outcome", "caller_id", "simulated", "page", "per_page"})
    page, per_page = q.page()
    outcome = q.choice("outcome", OUTCOMES)
    caller = q.phone("caller_id")
    simulated = q.boolean("simulated", None)
    with current_services().db.session() as s:
        tenant = _tenant(s)
        rng = _range(q, tenant)
        lo, hi = rng.utc_bounds(ZoneInfo(tenant.timezone or "Europe/Rome"))
        where = [Call.tenant_id == tenant.id, Call.started_at >= lo, Call.started_at < hi]
        if outcome:
            where.append(Call.outcome == outcome)
        if caller:
            where.append(Call.caller_id == caller)
        if simulated is not None:
            where.append(Call.simulated.is_(simulated))
        stmt = select(Call).where(*where).order_by(Call.started_at.desc(), Call.id)
        calls, total = _page(stmt, select(func.count()).where(*where).select_from(Call),
                             page, per_page, s)  # fmt: skip
        return _paged(_call_details(s, calls), page, per_page, total)


@bp.get("/calls/<call_id>")
@auth.require("read")
def get_call(call_id: str) -> Response:
    with current_services().db.session() as s:
        call = s.get(Call, call_id[:64])
        if call is None or call.tenant_id != g.api_key.tenant_id:
            raise ApiError(404, "no such call")
        out = _call_details(s, [call])[0]
        turns = s.scalars(select(Turn).where(Turn.call_id == call.id).order_by(Turn.index))
        out["turns"] = [{"speaker": t.speaker, "text": t.text, "at": _iso(t.at)} for t in turns]
        return jsonify(out)


@bp.get("/leads")
@auth.require("read")
def leads() -> Response:
    q = Query(request, {"from", "to", "min_score", "status", "page", "per_page"})
    page, per_page = q.page()
    min_score = q.integer("min_score", None, 0, 100)
    status = q.choice("status", LEAD_STATUSES)
    with current_services().db.session() as s:
        tenant = _tenant(s)
        rng = _range(q, tenant)
        lo, hi = rng.utc_bounds(ZoneInfo(tenant.timezone or "Europe/Rome"))
        where = [Lead.tenant_id == tenant.id, Lead.created_at >= lo, Lead.created_at < hi]
        if min_score is not None:
            where.append(Lead.score >= min_score)
        if status:
            where.append(Lead.status == status)
        stmt = select(Lead).where(*where).order_by(Lead.created_at.desc(), Lead.id.desc())
        rows, total = _page(stmt, select(func.count()).where(*where).select_from(Lead),
                            page, per_page, s)  # fmt: skip
        return _paged([lead_json(r) for r in rows], page, per_page, total)


@bp.get("/leads/<int:lead_id>")
@auth.require("read")
def get_lead(lead_id: int) -> Response:
    if lead_id > MAX_ID:  # beyond the column's range: cannot exist
        raise ApiError(404, "no such lead")
    with current_services().db.session() as s:
        lead = s.get(Lead, lead_id)
        if lead is None or lead.tenant_id != g.api_key.tenant_id:
            raise ApiError(404, "no such lead")
        return jsonify(lead_json(lead))


# --------------------------------------------------------------------------- simulated call


def _tenant_snapshot(t: Tenant) -> dict[str, Any]:
    return {
        "id": t.id,
        "slug": t.slug,
        "name": t.name,
        "numbers": [n.e164 for n in t.numbers],
        "language": t.language,
        "timezone": t.timezone,
        "greeting": t.greeting,
        "prompt_template": t.prompt_template,
        "questions": list(t.questions or []),
        "faq": list(t.faq or []),
        "zones": list(t.zones or []),
        "premium_zones": list(t.premium_zones or []),
        "vocabulary": list(t.vocabulary or []),
        "voice": dict(t.voice or {}),
        "business_hours": dict(t.business_hours or {}),
        "holidays": list(t.holidays or []),
        "transfer_number": t.transfer_number,
        "settings": dict(t.settings or {}),
    }


@bp.post("/calls")
@auth.require("write")
def simulate_call() -> tuple[Response, int]:
    from agent.dialogue.base import Utterance

    body = json_object(request, {"caller_id", "utterances", "in_business_hours"})
    raw_caller = string(body, "caller_id", 40, required=True)
    try:
        caller = normalize_e164(raw_caller or "")
    except InvalidPhoneNumber:
        raise ApiError(422, "'caller_id' is not a valid phone number (+393331234567)",
                       "caller_id") from None  # fmt: skip
    if "utterances" not in body:
        raise ApiError(400, "'utterances' is required", "utterances")
    utterances = string_list(
        body, "utterances", max_items=MAX_UTTERANCES, max_len=MAX_UTTERANCE_CHARS, min_items=1
    )
    assert utterances is not None
    for i, text in enumerate(utterances):
        if not text.strip():
            raise ApiError(422, f"'utterances[{i}]' is empty", f"utterances[{i}]")
    open_now = boolean(body, "in_business_hours", True)
    services = current_services()
    if services.make_dialogue is None:
        raise ApiError(503, "the dialogue engine is not installed on this server")
    with services.db.session() as s:
        tenant = _tenant(s)
        snapshot = _tenant_snapshot(tenant)

    # Run the whole conversation first, in memory: a failure stores nothing.
    dialogue = services.make_dialogue(snapshot, caller, open_now, llm=services.llm)
    started = utcnow()
    turns: list[dict[str, Any]] = []
    replies: list[dict[str, Any]] = []

    def record(reply: Any, t0: float) -> None:
        text = reply.text
        replies.append({"text": text, "action": str(getattr(reply.action, "value", reply.action))})
        turns.append(
            {"speaker": "agent", "text": text, "llm_provider": reply.provider,
             "reply_ms": round((time.perf_counter() - t0) * 1000, 1)}
        )  # fmt: skip

    try:
        t0 = time.perf_counter()
        record(services.runner.run(dialogue.start(), DIALOGUE_TIMEOUT_S), t0)
        for text in utterances:
            if replies and replies[-1]["action"] in ("hangup", "transfer"):
                break
            turns.append({"speaker": "caller", "text": text, "stt_provider": "api"})
            t0 = time.perf_counter()
            record(services.runner.run(dialogue.handle(Utterance(text)), DIALOGUE_TIMEOUT_S), t0)
        result = dialogue.result()
    except TimeoutError:
        raise ApiError(503, "the dialogue engine did not answer in time") from None
    ended = utcnow()
    outcome = str(result.get("outcome") or "completed")
    if outcome not in OUTCOMES:
        outcome = "completed"
    call_id = new_id()
    with services.db.session() as s:
        s.add(
            Call(
                id=call_id,
                tenant_id=snapshot["id"],
                channel_id="api-simulated",
                caller_id=caller,
                did=(snapshot["numbers"] or [""])[0],
                started_at=started,
                answered_at=started,
                ended_at=ended,
                duration_s=(ended - started).total_seconds(),
                state="ended",
                outcome=outcome,
                hangup_cause="API simulated call",
                simulated=True,
                data={"api_key": g.api_key.prefix},
            )
        )
        s.flush()
        at = started
        for i, turn in enumerate(turns):
            at += timedelta(milliseconds=1)
            s.add(Turn(call_id=call_id, tenant_id=snapshot["id"], index=i, at=at, **turn))
    lead: dict[str, Any] | None = None
    if outcome == "lead":
        from centralino.leads.service import LeadService

        draft = dict(result)
        draft["lead"] = dict(result.get("lead") or {})
        draft["lead"].setdefault("phone", caller)
        if not draft["lead"].get("phone"):
            draft["lead"]["phone"] = caller
        lead_id = LeadService(services.db, services.config).save_from_call(
            snapshot["id"], call_id, draft
        )
        with services.db.session() as s:
            row = s.get(Lead, lead_id)
            lead = lead_json(row) if row is not None else None
    with services.db.session() as s:
        call = s.get(Call, call_id)
        assert call is not None
        body_out = {
            "call": _call_details(s, [call])[0],
            "outcome": outcome,
            "replies": replies,
            "lead": lead,
        }
    return jsonify(body_out), 201
