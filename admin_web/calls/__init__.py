"""Call log (filters, pagination, CSV), call detail and the recording."""

from __future__ import annotations

import csv
import io
import mimetypes
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, send_file
from sqlalchemy import select

from admin_web.calls.filters import (
    OUTCOMES,
    PAGE_SIZE,
    QUALITY_BANDS,
    CallFilters,
    count_of,
    filtered_calls,
    quality_of,
)
from admin_web.i18n import fmt_dt
from admin_web.scoping import get_or_404, scoped
from admin_web.services import current_services
from admin_web.stats import local_zone
from centralino.calls.models import Call, CallEvent, Turn
from centralino.delivery.models import Delivery
from centralino.leads.models import Lead
from centralino.tenants.models import Tenant

bp = Blueprint("calls", __name__, url_prefix="/calls", template_folder="templates")

CSV_LIMIT = 50_000
AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".opus": "audio/ogg"}


def _tenant_choices(s: Any) -> list[tuple[int, str]]:
    return [
        (tid, name)
        for tid, name in s.execute(
            scoped(select(Tenant.id, Tenant.name).order_by(Tenant.name), Tenant.id)
        )
    ]


@bp.route("/")
def index() -> str:
    f = CallFilters.from_args(request.args)
    stmt = filtered_calls(f, local_zone())
    with current_services().db.session() as s:
        total = int(s.scalar(count_of(stmt)) or 0)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(f.page, pages)
        rows = s.execute(stmt.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
        tenants = _tenant_choices(s)
    return render_template(
        "calls/list.html",
        rows=rows,
        f=f,
        total=total,
        page=page,
        pages=pages,
        tenants=tenants,
        outcomes=OUTCOMES,
        bands=QUALITY_BANDS,
        quality_of=quality_of,
    )


_FORMULA = re.compile(r"^[=@\t\r]|^[+\-](?![\d\s()]*$)")


def _cell(value: Any) -> str:
    """Neutralise spreadsheet formulas (CSV injection); phone numbers stay as they are."""
    text = "" if value is None else str(value)
    return "'" + text if _FORMULA.match(text) else text


@bp.route("/export.csv")
def export_csv() -> Response:
    f = CallFilters.from_args(request.args)
    stmt = filtered_calls(f, local_zone()).limit(CSV_LIMIT)
    with current_services().db.session() as s:
        rows = s.execute(stmt).all()
    header = [
        "call_id",
        "started_at",
        "client",
        "caller_id",
        "caller_name",
        "did",
        "duration_s",
        "outcome",
        "hangup_cause",
        "lead_name",
        "lead_phone",
        "request_type",
        "zone",
        "budget_min",
        "budget_max",
        "score",
        "quality",
    ]

    def generate() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        buf.write("\ufeff")  # so Excel opens the UTF-8 file with the right accents
        writer.writerow(header)
        for call, tenant_name, lead in rows:
            writer.writerow(
                [
                    _cell(v)
                    for v in (
                        call.id,
                        call.started_at.isoformat(),
                        tenant_name or "",
                        call.caller_id,
                        call.caller_name,
                        call.did,
                        f"{call.duration_s:.1f}" if call.duration_s is not None else "",
                        call.outcome,
                        call.hangup_cause,
                        lead.name if lead else "",
                        lead.phone if lead else "",
                        lead.request_type if lead else "",
                        lead.zone if lead else "",
                        lead.budget_min if lead else "",
                        lead.budget_max if lead else "",
                        lead.score if lead else "",
                        quality_of(lead.score) if lead else "",
                    )
                ]
            )
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        yield buf.getvalue()

    return Response(
        generate(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="chiamate.csv"'},
    )


@bp.route("/<call_id>")
def detail(call_id: str) -> str:
    with current_services().db.session() as s:
        call = get_or_404(s, Call, call_id)
        turns = list(s.scalars(select(Turn).where(Turn.call_id == call.id).order_by(Turn.index)))
        events = list(
            s.scalars(select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.id))
        )
        lead = s.scalar(select(Lead).where(Lead.call_id == call.id))
        deliveries = (
            s.execute(
                select(Delivery, Tenant.name)
                .join(Tenant, Delivery.tenant_id == Tenant.id)
                .where(Delivery.lead_id == lead.id, Delivery.tenant_id == call.tenant_id)
                .order_by(Delivery.id)
            ).all()
            if lead is not None
            else []
        )
        tenant = s.get(Tenant, call.tenant_id) if call.tenant_id is not None else None
        has_recording = _recording_file(call) is not None
    return render_template(
        "calls/detail.html",
        call=call,
        turns=turns,
        events=events,
        lead=lead,
        tenant=tenant,
        has_recording=has_recording,
        rows=deliveries,
        quality_of=quality_of,
        fmt_dt=fmt_dt,
    )


def _recording_file(call: Call) -> Path | None:
    """The recording on disk, only if it lies under the recordings or runtime folder."""
    if not call.recording_path:
        return None
    config = current_services().config
    path = Path(call.recording_path)
    if not path.is_absolute():
        path = config.recordings_dir / path
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    roots = [config.recordings_dir.resolve(), config.runtime_dir.resolve()]
    if not any(resolved.is_relative_to(root) for root in roots) or not resolved.is_file():
        current_app.logger.warning("refusing recording path outside the data folders: %s", path)
        return None
    return resolved


@bp.route("/<call_id>/recording")
def recording(call_id: str) -> Response:
    """The call's audio; tenant-checked; supports Range requests (seeking)."""
    with current_services().db.session() as s:
        call = get_or_404(s, Call, call_id)
        path = _recording_file(call)
    if path is None:
        abort(404)
    mimetype = AUDIO_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    return send_file(
        path,
        mimetype=mimetype or "application/octet-stream",
        conditional=True,
        download_name=f"chiamata-{call_id}{path.suffix}",
        max_age=0,
    )
