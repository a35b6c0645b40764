"""Test calls: the chat simulator (same dialogue engine as the phone) and real SIP
test calls through Asterisk with the simulated caller."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from admin_web.clients.form import tenant_to_dict
from admin_web.scoping import get_or_404, scoped
from admin_web.services import Services, current_services
from admin_web.testcalls.chat import MAX_TEXT, ChatRegistry, ChatSession, in_business_hours
from admin_web.testcalls.sip import ANSWER_TIMEOUT_S, REQUEST_TIMEOUT_S, SCRIPTS, sip_target
from centralino.calls.service import CallStart
from centralino.tenants.models import Tenant
from centralino.tenants.phone import InvalidPhoneNumber, normalize_e164

bp = Blueprint("testcalls", __name__, url_prefix="/test-calls", template_folder="templates")

TIMEOUT_S = 60.0


def _registry(services: Services) -> ChatRegistry:
    registry = services.extra.get("chats")
    if registry is None:
        registry = services.extra.setdefault("chats", ChatRegistry())
    return registry


@bp.route("/")
def index() -> str:
    with current_services().db.session() as s:
        tenants = list(s.scalars(scoped(select(Tenant).order_by(Tenant.name), Tenant.id)))
    return render_template("testcalls/index.html", tenants=tenants)


def _load_tenant(tenant_id: int) -> dict[str, Any]:
    with current_services().db.session() as s:
        tenant = get_or_404(s, Tenant, tenant_id, Tenant.id)
        s.refresh(tenant, ["numbers"])
        return tenant_to_dict(tenant)


@bp.route("/<int:tenant_id>/chat")
def chat(tenant_id: int) -> str:
    tenant = _load_tenant(tenant_id)
    available = current_services().make_dialogue is not None
    return render_template(
        "testcalls/chat.html",
        tenant=tenant,
        available=available,
        open_now=in_business_hours(tenant),
        scripts=SCRIPTS,
        sip=None,
        sip_errors={},
        llm_error=current_services().extra.get("llm_error", ""),
    )


@bp.route("/<int:tenant_id>/sip", methods=["POST"])
def sip_call(tenant_id: int) -> Any:
    """Place a real SIP call to one of this agency's numbers, then open the stored call."""
    from centralino.simcaller import place_call

    services = current_services()
    tenant = _load_tenant(tenant_id)
    errors: dict[str, str] = {}
    did = request.form.get("did", "")
    if did not in tenant["numbers"]:  # only this agency's own numbers
        errors["did"] = _("Choose one of this client's numbers.")
    script_id = request.form.get("script", "")
    if script_id not in SCRIPTS:
        errors["script"] = _("Choose a caller script.")
    try:
        caller = normalize_e164(request.form.get("caller", "") or "+393330000000")
    except InvalidPhoneNumber:
        errors["sip_caller"] = _("Not a valid phone number.")
        caller = ""
    report = None
    status = 400
    if not errors:
        target = sip_target(services.config)
        try:
            report = services.runner.run(
                place_call(
                    did,
                    caller_id=caller,
                    server=target.host,
                    port=target.port,
                    script=SCRIPTS[script_id][1],
                    timeout=ANSWER_TIMEOUT_S,
                    database=services.db,
                ),
                REQUEST_TIMEOUT_S,
            )
        except Exception as exc:  # bad script file, socket errors: shown, nothing stored
            errors["sip"] = str(exc)
        else:
            stored = report.stored_call or {}
            if report.ok and stored.get("id"):
                flash(_("Test call completed."), "success")
                return redirect(url_for("calls.detail", call_id=stored["id"]))
            errors["sip"] = (
                report.error
                or report.stored_call_error
                or _("The call was not answered (SIP %(status)s).", status=report.sip_status or "–")
            )
            status = 502
    return render_template(
        "testcalls/chat.html",
        tenant=tenant,
        available=services.make_dialogue is not None,
        open_now=in_business_hours(tenant),
        scripts=SCRIPTS,
        sip=report,
        sip_errors=errors,
        llm_error=services.extra.get("llm_error", ""),
    ), status


def _reply_json(session: ChatSession, replies: list[Any], services: Services) -> Response:
    dialogue = session.dialogue
    lead = dialogue.lead.as_dict() if getattr(dialogue, "lead", None) is not None else {}
    result: dict[str, Any] = {}
    if session.ended:
        try:
            result = dict(dialogue.result())
        except Exception:  # the result is informative only
            result = {}
    return jsonify(
        session=session.token,
        call_id=session.call_id,
        replies=[
            {"text": r.text, "action": str(r.action), "provider": r.provider, "llm_ms": r.llm_ms}
            for r in replies
        ],
        lead={k: v for k, v in lead.items() if k != "confidence" and v not in ("", None)},
        ended=session.ended,
        outcome=result.get("outcome", ""),
    )


def _record_reply(services: Services, session: ChatSession, reply: Any) -> None:
    services.calls.add_turn(
        session.call_id,
        session.tenant_id,
        "agent",
        reply.text,
        llm_provider=reply.provider or "",
        reply_ms=reply.llm_ms,
    )
    if str(reply.action) != "continue":
        _finish(services, session)


def _finish(services: Services, session: ChatSession) -> None:
    if session.ended:
        return
    session.ended = True
    try:
        outcome = str(session.dialogue.result().get("outcome") or "completed")
    except Exception:
        outcome = "completed"
    services.calls.end(session.call_id, outcome=outcome, hangup_cause="chat test ended")


@bp.route("/<int:tenant_id>/chat", methods=["POST"])
def start(tenant_id: int) -> Any:
    services = current_services()
    tenant = _load_tenant(tenant_id)
    if services.make_dialogue is None:
        return jsonify(error=_("The dialogue engine is not installed on this server.")), 503
    hours = request.form.get("hours", "auto")
    open_now = in_business_hours(tenant) if hours == "auto" else hours == "open"
    caller = (request.form.get("caller") or "+393330000000").strip()[:32]
    dialogue = services.make_dialogue(tenant, caller, open_now, llm=services.llm)
    call_id = services.calls.start(
        CallStart(
            tenant_id=tenant_id,
            channel_id="chat-simulator",
            caller_id=caller,
            caller_name=_("Chat test by %(email)s", email=current_user.email)[:128],
            did=(tenant["numbers"] or [""])[0],
            simulated=True,
        )
    )
    services.calls.answered(call_id)
    session = ChatSession(
        token=ChatRegistry.new_token(),
        tenant_id=tenant_id,
        user_id=current_user.id,
        dialogue=dialogue,
        call_id=call_id,
    )
    with session.lock:
        reply = services.runner.run(dialogue.start(), TIMEOUT_S)
        _record_reply(services, session, reply)
    _registry(services).add(session)
    return _reply_json(session, [reply], services)


@bp.route("/<int:tenant_id>/chat/<token>", methods=["POST"])
def say(tenant_id: int, token: str) -> Any:
    from agent.dialogue.base import Utterance

    services = current_services()
    _load_tenant(tenant_id)  # 404 for another agency's tenant id
    session = _registry(services).get(token, tenant_id)
    if session is None:
        abort(404)
    text = (request.form.get("text") or "").strip()
    if not text:
        return jsonify(error=_("Write something first.")), 400
    if len(text) > MAX_TEXT:
        return jsonify(error=_("At most %(limit)s characters.", limit=MAX_TEXT)), 400
    with session.lock:
        if session.ended:
            return jsonify(error=_("The test call has ended. Start a new one.")), 409
        services.calls.add_turn(session.call_id, tenant_id, "caller", text, stt_provider="chat")
        reply = services.runner.run(session.dialogue.handle(Utterance(text)), TIMEOUT_S)
        _record_reply(services, session, reply)
        if request.form.get("end") == "1":
            _finish(services, session)
    return _reply_json(session, [reply], services)


@bp.route("/<int:tenant_id>/chat/<token>/end", methods=["POST"])
def end(tenant_id: int, token: str) -> Response:
    services = current_services()
    _load_tenant(tenant_id)
    session = _registry(services).get(token, tenant_id)
    if session is None:
        abort(404)
    with session.lock:
        _finish(services, session)
    return _reply_json(session, [], services)
