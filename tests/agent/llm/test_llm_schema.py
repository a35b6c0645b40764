from __future__ import annotations

import pytest

from agent.extraction import EXTRACTION_SCHEMA
from agent.llm.base import LLMInvalidOutput
from agent.llm.schema import parse_json, validate

GOOD = {
    "name": None,
    "phone": None,
    "request_type": "rent_out",
    "property_type": "villa",
    "zone": None,
    "budget_min": 100000,
    "budget_max": 200000.0,
    "urgency": "low",
    "callback_time": None,
}


def test_valid_lead_json():
    assert validate(GOOD, EXTRACTION_SCHEMA) == []
    assert parse_json("```json\n" + __import__("json").dumps(GOOD) + "\n```", EXTRACTION_SCHEMA)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"budget_min": True}, "expected integer/null"),
        ({"budget_min": 1.5}, "expected integer/null"),
        ({"urgency": "soon"}, "not one of"),
        ({"name": 42}, "expected string/null"),
    ],
)
def test_invalid_fields(change, error):
    errors = validate({**GOOD, **change}, EXTRACTION_SCHEMA)
    assert errors and error in errors[0]


def test_missing_and_extra_keys():
    schema = {**EXTRACTION_SCHEMA, "additionalProperties": False}
    data = {k: v for k, v in GOOD.items() if k != "zone"} | {"price": 1}
    errors = validate(data, schema)
    assert any("missing 'zone'" in e for e in errors)
    assert any("unexpected 'price'" in e for e in errors)


@pytest.mark.parametrize("text", ["", "null", "[1]", "{'a': 1}", '{"a": 1'])
def test_parse_json_rejects(text):
    with pytest.raises(LLMInvalidOutput):
        parse_json(text, EXTRACTION_SCHEMA)
