"""Call log: filters, pagination, CSV export, detail page and the recording."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from centralino.calls.service import CallStart, CallStore
from centralino.leads.models import Lead
from tests.admin.support import World, login, write_wav

XSS = "<script>alert(1)</script>"


def _ids(body: str, world: World) -> set[str]:
    known = {world.a.call_id: "a", world.b.call_id: "b"}
    return {v for k, v in known.items() if k in body}


def _add_calls(world: World, count: int, day: datetime) -> list[str]:
    store = CallStore(world.db)
    ids = []
    for i in range(count):
        cid = store.start(
            CallStart(
                tenant_id=world.a.tenant_id,
                channel_id=f"bulk{i}",
                caller_id=f"+39333000{i:04d}",
                did=world.a.did,
                started_at=day + timedelta(minutes=i),
            )
        )
        store.end(cid, outcome="completed", ended_at=day + timedelta(minutes=i, seconds=30))
        ids.append(cid)
    return ids


def test_filters(world: World) -> None:
    client = world.app.test_client()
    login(client, world.root_email)
    today = datetime.now(UTC).date()
    cases = {
        "": {"a", "b"},
        f"?tenant={world.b.tenant_id}": {"b"},
        "?outcome=lead": {"a", "b"},
        "?outcome=failed": set(),
        "?quality=high": {"a"},
        "?quality=low": {"b"},
        "?quality=medium": set(),
        "?caller=3331112233": {"a"},
        "?caller=bianchi": {"b"},
        "?q=parolab": {"b"},
        "?q=TRILOCALE": {"a", "b"},
        "?q=100%25": set(),
        f"?from={today - timedelta(days=1)}&to={today + timedelta(days=1)}": {"a", "b"},
        f"?from={today + timedelta(days=1)}": set(),
        f"?to={today - timedelta(days=2)}": set(),
        f"?tenant={world.a.tenant_id}&quality=high&q=navigli&caller=%2B39333": {"a"},
        "?from=not-a-date&quality=bogus&outcome=<x>": {"a", "b"},
    }
    for query, expected in cases.items():
        r = client.get(f"/calls/{query}")
        assert r.status_code == 200, query
        assert _ids(r.get_data(as_text=True), world) == expected, query


def test_pagination(world: World) -> None:
    day = datetime.now(UTC) - timedelta(days=3)
    ids = _add_calls(world, 30, day)
    client = world.app.test_client()
    login(client, world.a.agent_email)
    q = f"from={(day - timedelta(days=1)).date()}&to={(day + timedelta(days=1)).date()}"
    first = client.get(f"/calls/?{q}").get_data(as_text=True)
    second = client.get(f"/calls/?{q}&page=2").get_data(as_text=True)
    assert "30 chiamate" in first and "Pagina 1 di 2" in first
    on_first = {i for i in ids if i in first}
    on_second = {i for i in ids if i in second}
    assert len(on_first) == 25 and len(on_second) == 5 and not on_first & on_second
    assert ids[-1] in first  # newest first
    assert 'rel="next"' in first and "page=2" in first and "from=" in first
    # Out-of-range page numbers land on the last page.
    assert {
        i for i in ids if i in client.get(f"/calls/?{q}&page=99").get_data(as_text=True)
    } == on_second


def test_csv_export_follows_filters_and_neutralises_formulas(world: World) -> None:
    store = CallStore(world.db)
    cid = store.start(
        CallStart(
            tenant_id=world.a.tenant_id,
            channel_id="f",
            caller_id="+390200",
            caller_name='=HYPERLINK("http://x")',
            did=world.a.did,
        )
    )
    store.end(cid, outcome="completed")
    client = world.app.test_client()
    login(client, world.a.admin_email)
    r = client.get("/calls/export.csv?quality=high")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row["call_id"] for row in rows] == [world.a.call_id]
    assert rows[0]["score"] == "80" and rows[0]["quality"] == "high"
    assert rows[0]["caller_id"] == "+393331112233"  # phone numbers are left alone
    every = list(
        csv.DictReader(
            io.StringIO(client.get("/calls/export.csv").get_data(as_text=True).lstrip("\ufeff"))
        )
    )
    formula = next(row for row in every if row["call_id"] == cid)
    assert formula["caller_name"].startswith("'=")


def test_call_detail_shows_timeline_lead_and_hangup(world: World) -> None:
    client = world.app.test_client()
    login(client, world.a.agent_email)
    body = client.get(f"/calls/{world.a.call_id}").get_data(as_text=True)
    for expected in (
        "Buongiorno, ha chiamato Agenzia A.",
        "Cerco un trilocale",
        "+2,0 s",
        "+6,0 s",
        "STT whisper 180 ms",
        "0,91",
        "TTS espeak",
        "210 ms",
        "LLM rules",
        "Normal Clearing",
        "(16)",
        "Mario a",
        'id="recording"',
        "80",
    ):
        assert expected in body, expected


def test_agent_turns_cut_by_the_caller_are_marked(world: World) -> None:
    store = CallStore(world.db)
    cid = store.start(
        CallStart(
            tenant_id=world.a.tenant_id, channel_id="cut", caller_id="+393330001111",
            did=world.a.did,
        )
    )  # fmt: skip
    greeting = "Buongiorno, ha chiamato Agenzia A."
    full = f"{greeting} Come posso aiutarla?"
    store.add_turn(cid, world.a.tenant_id, "agent", greeting, data={
        "interrupted": True, "cut_by": "barge_in", "played_ms": 1840, "reply_text": full,
    })  # fmt: skip
    store.add_turn(cid, world.a.tenant_id, "caller", "Sì, buongiorno")
    store.add_turn(cid, world.a.tenant_id, "agent", "Arrivederci.", data={
        "interrupted": True, "cut_by": "hangup", "played_ms": 300,
    })  # fmt: skip
    store.add_turn(cid, world.a.tenant_id, "agent", "Grazie.", data={"interrupted": False})
    client = world.app.test_client()
    login(client, world.a.agent_email)
    body = client.get(f"/calls/{cid}").get_data(as_text=True)
    assert "Interrotto dal chiamante dopo 1,8 s" in body
    assert "Il chiamante ha riattaccato dopo 0,3 s" in body
    assert body.count('class="turn-cut"') == 2  # not on the turn played whole
    assert "Risposta completa" in body and full in body


def test_transcripts_and_caller_names_are_escaped(world: World) -> None:
    store = CallStore(world.db)
    cid = store.start(
        CallStart(
            tenant_id=world.a.tenant_id,
            channel_id="x",
            caller_id=XSS,
            caller_name=XSS,
            did=world.a.did,
        )
    )
    store.add_turn(cid, world.a.tenant_id, "caller", f"mi chiamo {XSS}")
    with world.db.session() as s:
        s.add(Lead(tenant_id=world.a.tenant_id, call_id=cid, name=XSS, notes=XSS))
    client = world.app.test_client()
    login(client, world.a.admin_email)
    for path in (f"/calls/{cid}", "/calls/", "/", "/live", f"/calls/?q={XSS}"):
        body = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in body, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, path


def test_recording_supports_range_requests(world: World) -> None:
    client = world.app.test_client()
    login(client, world.a.agent_email)
    url = f"/calls/{world.a.call_id}/recording"
    full = client.get(url)
    assert full.status_code == 200 and full.mimetype == "audio/wav"
    assert full.data[:4] == b"RIFF"
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(full.data)}"
    assert part.data == full.data[100:200]
    assert part.headers["Accept-Ranges"] == "bytes"


def test_recording_outside_data_folders_is_refused(world: World, tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "secret.wav"
    write_wav(outside)
    store = CallStore(world.db)
    for path in (str(outside), "../../outside/secret.wav", "/etc/passwd", "missing.wav"):
        cid = store.start(
            CallStart(tenant_id=world.a.tenant_id, channel_id="r", caller_id="1", did=world.a.did)
        )
        store.end(cid, recording_path=path)
        client = world.app.test_client()
        login(client, world.a.admin_email)
        assert client.get(f"/calls/{cid}/recording").status_code == 404, path
        assert 'id="recording"' not in client.get(f"/calls/{cid}").get_data(as_text=True)


def test_dashboard_counts(world: World) -> None:
    client = world.app.test_client()
    login(client, world.a.agent_email)
    body = client.get("/").get_data(as_text=True)

    def stat(name: str) -> str:
        import re

        m = re.search(rf'id="stat-{name}"><span class="value">([^<]*)<', body)
        assert m, name
        return m.group(1)

    # Agency A: 1 active client, 2 calls today (one ended, one live), 1 converted.
    assert stat("clients") == "1"
    assert stat("calls") == "2"
    assert stat("leads") == "1"
    assert stat("conversion") == "50,0 %"  # Italian decimal comma
    assert stat("live") == "1"
    live = client.get("/live").get_data(as_text=True)
    assert world.a.live_call_id in live and world.b.live_call_id not in live
    # A call the controller ends disappears from "in progress" on the next refresh.
    CallStore(world.db).end(world.a.live_call_id, outcome="abandoned")
    assert world.a.live_call_id not in client.get("/live").get_data(as_text=True)


def test_deliveries_list_and_retry_now(world: World) -> None:
    client = world.app.test_client()
    token = login(client, world.a.admin_email)
    body = client.get("/deliveries/?status=dead").get_data(as_text=True)
    assert "ufficio@a.it" in body and "ufficio@b.it" not in body
    assert "SMTP 550" in body and "Riprova ora" in body
    detail = client.get(f"/calls/{world.a.call_id}").get_data(as_text=True)
    assert "ufficio@a.it" in detail  # the lead's deliveries on the call page
    r = client.post(f"/deliveries/{world.a.delivery_id}/retry", data={"csrf_token": token})
    assert r.status_code == 302
    from centralino.accounts.models import AuditEntry
    from centralino.delivery.models import Delivery

    with world.db.session() as s:
        d = s.get(Delivery, world.a.delivery_id)
        assert d is not None and d.status == "pending" and d.attempts == 0
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "delivery.retry"))
        assert entry is not None and entry.before == {"status": "dead", "attempts": 8}
    assert "ufficio@a.it" not in client.get("/deliveries/?status=dead").get_data(as_text=True)
