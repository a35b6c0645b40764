"""The public REST API on the real admin app and a real database (SQLite and PostgreSQL).

Keys, isolation between agencies, scopes, revocation, bad input (nothing
stored), pagination, rate limiting, and a simulated call through the real
dialogue engine (rules only: no LLM server is needed for it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from centralino.accounts.models import AuditEntry
from centralino.apikeys.service import ApiKeyError, ApiKeyService, parse_scopes
from centralino.calls.models import Call, Turn
from centralino.db.session import Database
from centralino.leads.models import Lead
from centralino.tenants.models import Tenant

from .conftest import ApiWorld, make_api_world

RANGE = "from=2026-03-28&to=2026-03-30"


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _error(resp: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.is_json, resp.get_data(as_text=True)[:200]
    err = resp.json["error"]
    assert set(err) == {"code", "message", "field"}
    assert err["message"]
    if field is not None:
        assert err["field"] == field, err
    return dict(err)


def _counts(db: Database) -> tuple[int, int, int]:
    with db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(Call)) or 0,
            s.scalar(select(func.count()).select_from(Turn)) or 0,
            s.scalar(select(func.count()).select_from(Lead)) or 0,
        )


# --------------------------------------------------------------------------- keys


def test_key_is_shown_once_and_stored_hashed(sqlite_db: Database, tmp_path: Path) -> None:
    world = make_api_world(sqlite_db, tmp_path)
    keys = ApiKeyService(sqlite_db)
    new = keys.create(world.alfa, "test", ["read"])
    assert new.secret.startswith(new.info.prefix + "_")
    with sqlite_db.engine.connect() as c:
        stored = c.exec_driver_sql("SELECT prefix, key_hash FROM api_keys").all()
    assert all(new.secret not in (p, h) for p, h in stored)
    assert keys.authenticate(new.secret) is not None
    assert keys.authenticate(new.secret[:-1] + ("A" if new.secret[-1] != "A" else "B")) is None
    assert keys.authenticate("ck_nothere_x") is None
    assert keys.authenticate("garbage") is None
    world.services.close()


def test_key_names_are_validated(sqlite_db: Database, tmp_path: Path) -> None:
    world = make_api_world(sqlite_db, tmp_path)
    for bad in ("", "   ", "x" * 101, "a\x00b", "two\nlines"):
        with pytest.raises(ApiKeyError) as err:
            ApiKeyService(sqlite_db).create(world.alfa, bad, "read")
        assert err.value.field == "name"
    world.services.close()


def test_scopes_are_validated() -> None:
    assert parse_scopes("write") == ("read", "write")
    assert parse_scopes(["read"]) == ("read",)
    for bad in ("", "admin", "read,delete"):
        with pytest.raises(ApiKeyError) as err:
            parse_scopes(bad)
        assert err.value.field == "scopes"


def test_missing_malformed_and_revoked_keys_are_refused(api: ApiWorld) -> None:
    _error(api.client.get("/api/v1/stats"), 401)
    _error(api.client.get("/api/v1/stats", headers={"Authorization": "Basic Zm9vOmJhcg=="}), 401)
    _error(api.client.get("/api/v1/stats", headers=_h("ck_0000_nope")), 401)
    _error(api.client.get("/api/v1/config", headers=_h(api.revoked)), 401)
    assert api.client.get("/api/v1/config", headers=_h(api.alfa_read)).status_code == 200
    # Revoking takes effect on the next request.
    keys = ApiKeyService(api.db)
    victim = keys.create(api.alfa, "to revoke", "read")
    assert api.client.get("/api/v1/config", headers=_h(victim.secret)).status_code == 200
    assert keys.revoke(api.alfa, victim.info.id)
    _error(api.client.get("/api/v1/config", headers=_h(victim.secret)), 401)
    # Another tenant cannot revoke it (and learns nothing).
    other = keys.create(api.alfa, "other", "read")
    assert not keys.revoke(api.beta, other.info.id)


def test_read_only_key_cannot_write(api: ApiWorld) -> None:
    before = api.client.get("/api/v1/config", headers=_h(api.alfa_read)).json
    resp = api.client.patch(
        "/api/v1/config", json={"greeting": "Pronto?"}, headers=_h(api.alfa_read)
    )
    _error(resp, 403)
    body = {"caller_id": "+393331234567", "utterances": ["Buongiorno"]}
    counts = _counts(api.db)
    _error(api.client.post("/api/v1/calls", json=body, headers=_h(api.alfa_read)), 403)
    assert _counts(api.db) == counts
    assert api.client.get("/api/v1/config", headers=_h(api.alfa_read)).json == before


def test_openapi_document_is_public(api: ApiWorld) -> None:
    resp = api.client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc = resp.json
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) >= {
        "/api/v1/stats", "/api/v1/config", "/api/v1/logs", "/api/v1/calls", "/api/v1/leads",
    }  # fmt: skip


# --------------------------------------------------------------------------- isolation


def test_tenant_a_never_sees_tenant_b(api: ApiWorld) -> None:
    with api.db.session() as s:
        beta_lead = s.scalar(select(Lead.id).where(Lead.tenant_id == api.beta))
        alfa_lead = s.scalar(select(Lead.id).where(Lead.tenant_id == api.alfa))
    a = _h(api.alfa_read)
    _error(api.client.get("/api/v1/calls/b1", headers=a), 404)
    _error(api.client.get(f"/api/v1/leads/{beta_lead}", headers=a), 404)
    assert api.client.get("/api/v1/calls/c1", headers=a).status_code == 200
    assert api.client.get(f"/api/v1/leads/{alfa_lead}", headers=a).status_code == 200
    # And the other way round.
    b = _h(api.beta_read)
    _error(api.client.get("/api/v1/calls/c1", headers=b), 404)
    _error(api.client.get(f"/api/v1/leads/{alfa_lead}", headers=b), 404)
    logs = api.client.get(f"/api/v1/logs?{RANGE}&per_page=100", headers=a).json
    assert {c["id"] for c in logs["items"]} == {"c1", "c2", "c3", "c4", "c6", "c7"}
    leads = api.client.get(f"/api/v1/leads?{RANGE}", headers=b).json
    assert [lead["name"] for lead in leads["items"]] == ["Beta"]
    stats_b = api.client.get(f"/api/v1/stats?{RANGE}", headers=b).json
    assert stats_b["calls"] == 2 and stats_b["tenant_id"] == api.beta


# --------------------------------------------------------------------------- reads


def test_stats_match_the_hand_computed_report(api: ApiWorld) -> None:
    stats = api.client.get(f"/api/v1/stats?{RANGE}", headers=_h(api.alfa_read)).json
    assert stats["calls"] == 5
    assert stats["converted"] == 2
    assert stats["conversion_rate"] == pytest.approx(0.4)
    assert stats["costs"]["per_lead"] == pytest.approx(1.883)
    assert stats["calls_by_day"][0] == {"day": "2026-03-28", "calls": 2}
    assert stats["fallback_share"]["tts"] == pytest.approx(0.25)
    with_sim = api.client.get(
        f"/api/v1/stats?{RANGE}&include_simulated=true", headers=_h(api.alfa_read)
    ).json
    assert with_sim["calls"] == 6


def test_logs_filters_and_pagination(api: ApiWorld) -> None:
    a = _h(api.alfa_read)
    page1 = api.client.get(f"/api/v1/logs?{RANGE}&simulated=false&per_page=2", headers=a).json
    assert page1["total"] == 5 and page1["page"] == 1 and page1["next_page"] == 2
    assert [c["id"] for c in page1["items"]] == ["c4", "c3"]  # newest first
    page3 = api.client.get(f"/api/v1/logs?{RANGE}&simulated=false&per_page=2&page=3", headers=a)
    assert [c["id"] for c in page3.json["items"]] == ["c6"] and page3.json["next_page"] is None
    only = api.client.get(f"/api/v1/logs?{RANGE}&outcome=abandoned", headers=a).json
    assert [c["id"] for c in only["items"]] == ["c4"]
    c1 = api.client.get("/api/v1/calls/c1", headers=a).json
    assert c1["sentiment"] == {"label": "positive", "confidence": 0.9}
    assert c1["lead_id"] is not None and len(c1["turns"]) == 3
    by_caller = api.client.get(f"/api/v1/logs?{RANGE}&caller_id=333 123 4567", headers=a).json
    assert by_caller["total"] == 6
    scored = api.client.get(f"/api/v1/leads?{RANGE}&min_score=40", headers=a).json
    assert sorted(lead["score"] for lead in scored["items"]) == [45, 80, 95]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("from=2026-03-30&to=2026-03-01", 400, "to"),
        ("from=yesterday", 400, "from"),
        ("to=2026-02-30", 400, "to"),
        ("page=0", 400, "page"),
        ("per_page=1000", 400, "per_page"),
        ("page=abc", 400, "page"),
        ("caller_id=not-a-number", 400, "caller_id"),
        ("outcome=won", 400, "outcome"),
        ("simulated=maybe", 400, "simulated"),
        ("sort=asc", 400, "sort"),
    ],
)
def test_bad_log_queries_name_the_field(api: ApiWorld, query: str, status: int, field: str) -> None:
    _error(api.client.get(f"/api/v1/logs?{query}", headers=_h(api.alfa_read)), status, field)


def test_stats_range_the_wrong_way_round(api: ApiWorld) -> None:
    resp = api.client.get("/api/v1/stats?from=2026-03-30&to=2026-03-28", headers=_h(api.alfa_read))
    assert "before" in _error(resp, 400, "to")["message"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"utterances": ["Buongiorno"]}, 400, "caller_id"),
        ({"caller_id": 393331234567, "utterances": ["Buongiorno"]}, 400, "caller_id"),
        ({"caller_id": "+393331234567"}, 400, "utterances"),
        ({"caller_id": "+393331234567", "utterances": "Buongiorno"}, 400, "utterances"),
        ({"caller_id": "+393331234567", "utterances": [42]}, 400, "utterances[0]"),
        ({"caller_id": "+393331234567", "utterances": []}, 422, "utterances"),
        ({"caller_id": "+393331234567", "utterances": ["x" * 501]}, 422, "utterances[0]"),
        ({"caller_id": "+393331234567", "utterances": ["ok", "  "]}, 422, "utterances[1]"),
        ({"caller_id": "+393331234567", "utterances": ["ok"] * 31}, 422, "utterances"),
        ({"caller_id": "12ab", "utterances": ["Buongiorno"]}, 422, "caller_id"),
        ({"caller_id": "+0123", "utterances": ["Buongiorno"]}, 422, "caller_id"),
        ({"caller_id": "+393331234567", "utterances": ["ok"], "extra": 1}, 400, "extra"),
        ({"caller_id": "+393331234567", "utterances": ["ok"], "in_business_hours": "yes"},
         400, "in_business_hours"),
    ],
)  # fmt: skip
def test_bad_simulated_calls_store_nothing(
    api: ApiWorld, body: dict[str, Any], status: int, field: str
) -> None:
    before = _counts(api.db)
    _error(api.client.post("/api/v1/calls", json=body, headers=_h(api.alfa_write)), status, field)
    assert _counts(api.db) == before


def test_non_json_bodies_are_refused(api: ApiWorld) -> None:
    before = _counts(api.db)
    resp = api.client.post("/api/v1/calls", data="caller_id=1", headers=_h(api.alfa_write))
    _error(resp, 415)
    resp = api.client.post(
        "/api/v1/calls",
        data="[1, 2",
        headers={**_h(api.alfa_write), "Content-Type": "application/json"},
    )
    _error(resp, 400)
    assert _counts(api.db) == before


@pytest.mark.parametrize(
    ("patch", "status", "field"),
    [
        ({"greeting": 12}, 400, "greeting"),
        ({"questions": "name?"}, 400, "questions"),
        ({"questions": [{"text": "Nome?", "colour": "red"}]}, 400, "questions[0].colour"),
        ({"questions": [{"text": "Nome?", "required": "yes"}]}, 400, "questions[0].required"),
        ({"questions": []}, 422, "questions"),
        ({"questions": [{"key": "Bad Key", "text": "Nome?"}]}, 422, "questions[0]"),
        ({"voice": {"provider": "elevenlabs", "voice_id": ""}}, 422, "voice.voice_id"),
        ({"voice": {"stability": 3}}, 422, "voice.stability"),
        ({"voice": {"pitch": 3}}, 400, "voice.pitch"),
        ({"business_hours": {"mon": [["09:00", "25:00"]]}}, 422, "business_hours.mon"),
        ({"business_hours": {"mon": [["13:00", "09:00"]]}}, 422, "business_hours.mon"),
        ({"business_hours": {"funday": []}}, 400, "business_hours.funday"),
        ({"business_hours": {"mon": "9-13"}}, 400, "business_hours.mon"),
        ({"holidays": ["2026-02-30"]}, 422, "holidays"),
        ({"timezone": "Mars/Olympus"}, 422, "timezone"),
        ({"greeting": "x" * 1001}, 422, "greeting"),
        ({"prompt_template": "Ciao {{ nonesiste }}"}, 422, "prompt_template"),
        ({"prompt_template": "Ciao {{ agency "}, 422, "prompt_template"),
        ({"costs": {"trunk_eur_per_min": -1}}, 422, "costs.trunk_eur_per_min"),
        ({"costs": {"tariff": 1}}, 400, "costs.tariff"),
        ({"name": "Altro nome"}, 400, "name"),
    ],
)
def test_bad_config_patches_change_nothing(
    api: ApiWorld, patch: dict[str, Any], status: int, field: str
) -> None:
    w = _h(api.alfa_write)
    before = api.client.get("/api/v1/config", headers=w).json
    _error(api.client.patch("/api/v1/config", json=patch, headers=w), status, field)
    assert api.client.get("/api/v1/config", headers=w).json == before


def test_valid_config_patch_is_saved_and_audited(api: ApiWorld) -> None:
    w = _h(api.alfa_write)
    patch = {
        "greeting": "Buongiorno, Immobiliare Alfa, come posso aiutarla?",
        "business_hours": {"sat": [], "mon": [["08:30", "12:30"]]},
        "voice": {"provider": "offline", "stability": 0.3},
        "costs": {"trunk_eur_per_min": 0.01, "fixed_monthly_eur": 10},
        "prompt_template": "Sei la receptionist di {{ agency }}. Zone: {{ zones }}.",
    }
    resp = api.client.patch("/api/v1/config", json=patch, headers=w)
    assert resp.status_code == 200, resp.json
    cfg = api.client.get("/api/v1/config", headers=w).json
    assert cfg["greeting"] == patch["greeting"]
    assert cfg["business_hours"]["mon"] == [["08:30", "12:30"]]
    assert cfg["business_hours"]["sat"] == []
    assert cfg["business_hours"]["tue"] == [["09:00", "13:00"], ["14:30", "19:00"]]
    assert cfg["voice"]["stability"] == 0.3
    assert cfg["costs"]["trunk_eur_per_min"] == 0.01
    with api.db.session() as s:
        tenant = s.get(Tenant, api.alfa)
        assert tenant is not None and tenant.prompt_template == patch["prompt_template"]
        # The DID and other settings were not touched.
        assert [n.e164 for n in tenant.numbers] == ["+390212345678"]
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "tenant.update"))
        assert entry is not None and entry.tenant_id == api.alfa
        assert "API key" in entry.user_email


# --------------------------------------------------------------------------- writes


def test_simulated_call_runs_the_dialogue_and_stores_the_lead(api: ApiWorld) -> None:
    body = {
        "caller_id": "+39 333 765 4321",
        "utterances": [
            "Buongiorno, vorrei comprare un trilocale",
            "Mi chiamo Mario Rossi",
            "Il budget è 600 mila euro, è urgente",
        ],
    }
    resp = api.client.post("/api/v1/calls", json=body, headers=_h(api.alfa_write))
    assert resp.status_code == 201, resp.json
    out = resp.json
    assert out["call"]["simulated"] is True
    assert out["call"]["caller_id"] == "+393337654321"
    assert len(out["replies"]) == 4 and out["replies"][0]["text"].startswith("Buongiorno")
    assert out["outcome"] == "lead" and out["lead"]["name"] == "Mario Rossi"
    assert out["lead"]["budget_max"] == 600_000
    # Scored by the delivery area's rules: > 500k (30) + "urgente" (25).
    assert out["lead"]["score"] == 55
    call_id = out["call"]["id"]
    stored = api.client.get(f"/api/v1/calls/{call_id}", headers=_h(api.alfa_read)).json
    assert [t["speaker"] for t in stored["turns"]] == ["agent", "caller"] * 3 + ["agent"]
    assert stored["lead_id"] == out["lead"]["id"]
    # Not visible to the other agency.
    _error(api.client.get(f"/api/v1/calls/{call_id}", headers=_h(api.beta_read)), 404)


# --------------------------------------------------------------------------- protocol


def test_errors_are_json_for_unrouted_api_urls(api: ApiWorld) -> None:
    _error(api.client.post("/api/v1/stats", headers=_h(api.alfa_write)), 405)
    _error(api.client.get("/api/v1/nothing-here", headers=_h(api.alfa_read)), 404)


def test_rate_limit_answers_429_with_retry_after(db: Database, tmp_path: Path) -> None:
    world = make_api_world(db, tmp_path, rate_per_minute=6, burst=3)
    try:
        codes = [
            world.client.get("/api/v1/config", headers=_h(world.alfa_read)).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        resp = world.client.get("/api/v1/config", headers=_h(world.alfa_read))
        _error(resp, 429)
        assert int(resp.headers["Retry-After"]) >= 1
        # Buckets are per key: another key is unaffected.
        assert world.client.get("/api/v1/config", headers=_h(world.beta_read)).status_code == 200
    finally:
        world.services.close()


def test_out_of_range_ids_are_not_found(api: ApiWorld) -> None:
    a = _h(api.alfa_read)
    for lead_id in (2**31, 2**63, 10**30):
        _error(api.client.get(f"/api/v1/leads/{lead_id}", headers=a), 404)
    _error(api.client.get(f"/api/v1/calls/{'x' * 500}", headers=a), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"caller_id": "+393331234567", "utterances": ["ciao\x00"]}, "utterances[0]"),
        ({"caller_id": "+39333\x001234567", "utterances": ["ciao"]}, "caller_id"),
        ({"caller_id": "+393331234567", "utterances": ["\udaf4"]}, "utterances[0]"),
    ],
)
def test_text_postgresql_cannot_store_is_refused(
    api: ApiWorld, body: dict[str, Any], field: str
) -> None:
    """NUL and lone surrogates: 400 naming the field on both backends, nothing stored."""
    import json

    before = _counts(api.db)
    resp = api.client.post(
        "/api/v1/calls",
        data=json.dumps(body),  # json.dumps escapes them as \\u0000 / \\udaf4
        headers={**_h(api.alfa_write), "Content-Type": "application/json"},
    )
    _error(resp, 400, field)
    assert _counts(api.db) == before
    w = _h(api.alfa_write)
    _error(api.client.patch("/api/v1/config", json={"greeting": "a\x00b"}, headers=w), 400,
           "greeting")  # fmt: skip
    _error(api.client.get("/api/v1/logs?outcome=le%00ad", headers=w), 400, "outcome")
    _error(api.client.get("/api/v1/calls/c1%00", headers=w), 404)
