from pathlib import Path

import pytest

from centralino.calls.service import CallStart, CallStore
from centralino.db.session import Database
from centralino.tenants.phone import InvalidPhoneNumber, normalize_e164
from centralino.tenants.service import TenantError, TenantService, parse_spec, read_tenant_file


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+39 02 1234 5678", "+390212345678"),
        ("0039021234567", "+39021234567"),
        ("3331234567", "+393331234567"),
    ],
)
def test_normalize_e164(raw: str, expected: str) -> None:
    assert normalize_e164(raw) == expected


@pytest.mark.parametrize("raw", ["", "abc", "+0123", "+39" + "1" * 20, "02-12a"])
def test_normalize_rejects(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalize_e164(raw)


def test_malformed_did_in_tenant_file(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text('[[tenant]]\nslug="a"\nname="A"\nnumbers=["02-CIAO"]\n')
    with pytest.raises(TenantError, match="invalid DID"):
        read_tenant_file(f)


def test_duplicate_did_across_tenants_in_file(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text(
        '[[tenant]]\nslug="a"\nname="A"\nnumbers=["+390211111111"]\n'
        '[[tenant]]\nslug="b"\nname="B"\nnumbers=["+39 02 1111 1111"]\n'
    )
    with pytest.raises(TenantError, match="assigned to both"):
        read_tenant_file(f)


def test_duplicate_did_against_database_changes_nothing(db: Database) -> None:
    svc = TenantService(db)
    svc.upsert(parse_spec({"slug": "a", "name": "A", "numbers": ["+390211111111"]}))
    with pytest.raises(TenantError, match="already belongs to tenant 'a'"):
        svc.upsert(parse_spec({"slug": "b", "name": "B", "numbers": ["+390211111111"]}))
    assert [t.slug for t in svc.all()] == ["a"]
    tenant = svc.by_did("0211111111")
    assert tenant is not None and tenant.slug == "a"
    assert svc.by_did("+390299999999") is None


def test_demo_file_loads_and_call_lifecycle(db: Database) -> None:
    demo = Path(__file__).resolve().parents[2] / "centralino" / "tenants" / "demo.toml"
    (tid,) = TenantService(db).load_file(demo)
    store = CallStore(db)
    call_id = store.start(
        CallStart(tenant_id=tid, channel_id="c1", caller_id="+393331234567", did="+390212345678")
    )
    store.answered(call_id)
    store.add_turn(call_id, tid, "agent", "Buongiorno")
    store.end(call_id, hangup_cause="Normal Clearing", hangup_code=16)
    call = store.get(call_id)
    assert call is not None and call.state == "ended" and call.outcome == "completed"
    assert call.duration_s is not None and call.duration_s >= 0
    open_id = store.start(CallStart(tenant_id=tid, channel_id="c2", caller_id="x", did="y"))
    assert store.recover_stale() == 1
    recovered = store.get(open_id)
    assert recovered is not None and recovered.outcome == "failed"


@pytest.mark.parametrize(
    ("dialogue", "field", "message"),
    [
        ({"confirm": "false"}, "settings.dialogue.confirm", "must be true or false"),
        ({"llm_answers": 1}, "settings.dialogue.llm_answers", "must be true or false"),
        ({"llm_budget_s": 0}, "settings.dialogue.llm_budget_s", "more than zero"),
        ({"llm_budget_s": -1.5}, "settings.dialogue.llm_budget_s", "more than zero"),
        ({"llm_budget_s": True}, "settings.dialogue.llm_budget_s", "must be a number"),
        ({"max_asks": "due"}, "settings.dialogue.max_asks", "must be a whole number"),
        ({"confrim": False}, "settings.dialogue.confrim", "not a dialogue setting"),
        ("off", "settings.dialogue", "must be a table"),
    ],
)
def test_bad_dialogue_settings_are_refused_when_the_tenant_is_saved(
    dialogue: object, field: str, message: str
) -> None:
    # At call time the dialogue only logs such a value and uses its default: the
    # agency learns of it here, when the tenant is saved.
    data = {"slug": "a", "name": "A", "numbers": [], "settings": {"dialogue": dialogue}}
    with pytest.raises(TenantError, match=message) as info:
        parse_spec(data)
    assert info.value.field == field


def test_good_dialogue_settings_are_saved_as_given(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text(
        '[[tenant]]\nslug="a"\nname="A"\nnumbers=[]\n'
        "[tenant.settings.dialogue]\nconfirm = false\nllm_answers = true\nllm_budget_s = 1.5\n"
        "max_asks = 3\n"
    )
    [spec] = read_tenant_file(f)
    assert spec.settings["dialogue"] == {
        "confirm": False,
        "llm_answers": True,
        "llm_budget_s": 1.5,
        "max_asks": 3,
    }
    f.write_text(f.read_text().replace("confirm = false", 'confirm = "false"'))
    with pytest.raises(TenantError, match="confirm must be true or false"):
        read_tenant_file(f)
