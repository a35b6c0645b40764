"""The OpenAPI 3 document served at ``/api/v1/openapi.json``.

Written by hand next to the views it describes; ``tests/api/test_schemathesis.py``
fuzzes the served document against the running app so the two cannot drift.
"""

from __future__ import annotations

from typing import Any

from admin_web.api.validation import MAX_PER_PAGE

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_NUM = {"type": ["number", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed input (wrong type, unknown field or parameter); `field` names it.",
        401: "Missing, unknown or revoked API key.",
        403: "The key lacks the scope this operation needs.",
        404: "No such object for this key's agency.",
        415: "The body is not JSON.",
        422: "Well-formed but invalid value; `field` names it.",
        429: "Rate limit exceeded; see Retry-After.",
        503: "The dialogue engine is not available.",
    }
    out: dict[str, Any] = {}
    for code in codes:
        resp: dict[str, Any] = {
            "description": text[code],
            "content": {"application/json": {"schema": _ref("Error")}},
        }
        if code == 429:
            resp["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        out[str(code)] = resp
    return out


def _param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


DATE_PARAMS = [
    _param("from", {"type": "string", "format": "date"}, "First local day (default: 30 days ago)."),
    _param(
        "to", {"type": "string", "format": "date"}, "Last local day, included (default: today)."
    ),
]
PAGE_PARAMS = [
    _param("page", {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1}, "Page."),
    _param(
        "per_page",
        {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 50},
        "Items per page.",
    ),
]


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    out["required"] = list(props) if required is None else required
    out.update(extra)
    return out


def _counts() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}


SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {
            "error": _obj(
                {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": NULLABLE_STR,
                }
            )
        }
    ),
    "Call": _obj(
        {
            "id": {"type": "string"},
            "started_at": {"type": "string", "format": "date-time"},
            "answered_at": {"type": ["string", "null"], "format": "date-time"},
            "ended_at": {"type": ["string", "null"], "format": "date-time"},
            "duration_s": NULLABLE_NUM,
            "caller_id": {"type": "string"},
            "did": {"type": "string"},
            "outcome": {"type": "string"},
            "simulated": {"type": "boolean"},
            "sentiment": {
                "oneOf": [
                    {"type": "null"},
                    _obj(
                        {
                            "label": {"enum": ["positive", "neutral", "negative"]},
                            "confidence": {"type": "number"},
                        }
                    ),
                ]
            },
            "lead_id": NULLABLE_INT,
        }
    ),
    "Lead": _obj(
        {
            "id": {"type": "integer"},
            "call_id": NULLABLE_STR,
            "created_at": {"type": "string", "format": "date-time"},
            "name": {"type": "string"},
            "phone": {"type": "string"},
            "request_type": {"type": "string"},
            "property_type": {"type": "string"},
            "zone": {"type": "string"},
            "budget_min": NULLABLE_INT,
            "budget_max": NULLABLE_INT,
            "urgency": {"type": "string"},
            "callback_time": {"type": "string"},
            "notes": {"type": "string"},
            "score": NULLABLE_INT,
            "score_reasons": {
                "type": "array",
                "items": _obj(
                    {
                        "rule": {"type": "string"},
                        "points": {"type": "integer"},
                        "text": {"type": "string"},
                    }
                ),
            },
            "status": {"type": "string"},
        }
    ),
    "Question": _obj(
        {
            "key": {"type": "string", "maxLength": 40},
            "text": {"type": "string", "maxLength": 300},
            "required": {"type": "boolean"},
        },
        required=["text"],
        additionalProperties=False,
    ),
    "Voice": _obj(
        {
            "provider": {"enum": ["elevenlabs", "offline"]},
            "voice_id": {"type": "string", "maxLength": 100},
            "stability": {"type": "number", "minimum": 0, "maximum": 1},
            "similarity": {"type": "number", "minimum": 0, "maximum": 1},
            "offline_voice": {"type": "string", "maxLength": 100},
        },
        required=[],
        additionalProperties=False,
    ),
    "Costs": _obj(
        {
            "trunk_eur_per_min": {"type": "number", "minimum": 0, "maximum": 100},
            "fixed_monthly_eur": {"type": "number", "minimum": 0, "maximum": 1000000},
            "tts_eur_per_char": {
                "type": "object",
                "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
            },
            "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
        },
        required=[],
        additionalProperties=False,
    ),
    "BusinessHours": {
        "type": "object",
        "properties": {
            d: {
                "type": "array",
                "maxItems": 6,
                "items": {
                    "type": "array",
                    "minItems": 2,
                    "maxItems": 2,
                    "items": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
                },
            }
            for d in DAYS
        },
        "additionalProperties": False,
    },
}
SCHEMAS["Config"] = _obj(
    {
        "greeting": {"type": "string", "maxLength": 1000},
        "prompt_template": {"type": "string", "maxLength": 8000},
        "questions": {"type": "array", "items": _ref("Question"), "maxItems": 30},
        "voice": _ref("Voice"),
        "business_hours": _ref("BusinessHours"),
        "holidays": {"type": "array", "items": {"type": "string", "format": "date"}},
        "timezone": {"type": "string"},
        "costs": _ref("Costs"),
    }
)
SCHEMAS["ConfigPatch"] = {
    **SCHEMAS["Config"],
    "required": [],
    "additionalProperties": False,
    "minProperties": 1,
}
SCHEMAS["Page"] = _obj(
    {
        "page": {"type": "integer"},
        "per_page": {"type": "integer"},
        "total": {"type": "integer"},
        "next_page": NULLABLE_INT,
    }
)
SCHEMAS["CallPage"] = {
    "allOf": [
        _ref("Page"),
        _obj({"items": {"type": "array", "items": _ref("Call")}}),
    ]
}
SCHEMAS["LeadPage"] = {
    "allOf": [
        _ref("Page"),
        _obj({"items": {"type": "array", "items": _ref("Lead")}}),
    ]
}
SCHEMAS["CallWithTurns"] = {
    "allOf": [
        _ref("Call"),
        _obj(
            {
                "turns": {
                    "type": "array",
                    "items": _obj(
                        {
                            "speaker": {"type": "string"},
                            "text": {"type": "string"},
                            "at": {"type": "string", "format": "date-time"},
                        }
                    ),
                }
            }
        ),
    ]
}
SCHEMAS["SimulatedCall"] = _obj(
    {
        "caller_id": {
            "type": "string",
            "maxLength": 40,
            "pattern": "^\\+[1-9][0-9]{5,14}$",
            "description": "E.164; national Italian numbers and spaces are accepted too.",
            "example": "+393331234567",
        },
        "utterances": {
            "type": "array",
            "minItems": 1,
            "maxItems": 30,
            "items": {"type": "string", "minLength": 1, "maxLength": 500},
            "example": ["Vorrei comprare un bilocale a Brera", "Mario Rossi"],
        },
        "in_business_hours": {"type": "boolean", "default": True},
    },
    required=["caller_id", "utterances"],
    additionalProperties=False,
)
SCHEMAS["SimulatedCallResult"] = _obj(
    {
        "call": _ref("Call"),
        "outcome": {"type": "string"},
        "replies": {
            "type": "array",
            "items": _obj({"text": {"type": "string"}, "action": {"type": "string"}}),
        },
        "lead": {"oneOf": [{"type": "null"}, _ref("Lead")]},
    }
)
_PCT = _obj({p: {"type": "number"} for p in ("p50", "p90", "p95", "p99")})
SCHEMAS["Stats"] = _obj(
    {
        "tenant_id": {"type": "integer"},
        "start": {"type": "string", "format": "date"},
        "end": {"type": "string", "format": "date"},
        "calls": {"type": "integer"},
        "answered": {"type": "integer"},
        "avg_duration_s": NULLABLE_NUM,
        "calls_by_hour": {
            "type": "array",
            "items": {"type": "integer"},
            "minItems": 24,
            "maxItems": 24,
        },
        "calls_by_day": {
            "type": "array",
            "items": _obj(
                {"day": {"type": "string", "format": "date"}, "calls": {"type": "integer"}}
            ),
        },
        "leads": {"type": "integer"},
        "converted": {"type": "integer"},
        "conversion_rate": NULLABLE_NUM,
        "score_bands": _counts(),
        "budget_bands": _counts(),
        "zones": _counts(),
        "urgency": _counts(),
        "sentiment": _counts(),
        "costs": _obj(
            {
                "trunk": {"type": "number"},
                "tts": {"type": "number"},
                "fixed": {"type": "number"},
                "total": {"type": "number"},
                "minutes": {"type": "number"},
                "tts_chars": _counts(),
                "leads": {"type": "integer"},
                "per_lead": NULLABLE_NUM,
                "currency": {"type": "string"},
            }
        ),
        "provider_usage": _obj({k: _counts() for k in ("stt", "llm", "tts")}),
        "fallback_share": _obj({k: NULLABLE_NUM for k in ("stt", "llm", "tts")}),
        "latency": {
            "type": "array",
            "items": {
                "allOf": [
                    _obj(
                        {
                            "day": {"type": "string", "format": "date"},
                            "metric": {"type": "string"},
                            "count": {"type": "integer"},
                        }
                    ),
                    _PCT,
                ]
            },
        },
    }
)

OUTCOMES = [
    "in_progress", "completed", "lead", "unknown_did", "abandoned", "transferred", "voicemail",
    "failed",
]  # fmt: skip
LEAD_STATUSES = ["new", "contacted", "qualified", "won", "lost", "archived"]


def build_openapi(server_url: str = "") -> dict[str, Any]:
    read: list[dict[str, list[str]]] = [{"bearer": []}]
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Centralino API",
            "version": "1.0.0",
            "description": (
                "Per-agency API of the Centralino AI receptionist. Authenticate with "
                "`Authorization: Bearer <key>` (keys: `centralino apikey create`). Keys have "
                'the scopes `read` and `write`. Errors are `{"error": {"code", "message", '
                '"field"}}`. Dates are the agency\'s local calendar days.'
            ),
        },
        "servers": [{"url": server_url or "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "paths": {
            "/api/v1/stats": {
                "get": {
                    "operationId": "getStats",
                    "summary": "Analytics for a date range",
                    "security": read,
                    "parameters": [
                        *DATE_PARAMS,
                        _param("include_simulated", {"type": "boolean"}, "Count API calls too."),
                    ],
                    "responses": {"200": _json(_ref("Stats")), **_errors(400, 401, 403, 422, 429)},
                }
            },
            "/api/v1/config": {
                "get": {
                    "operationId": "getConfig",
                    "summary": "The receptionist's prompt, questions, voice, hours, costs",
                    "security": read,
                    "responses": {"200": _json(_ref("Config")), **_errors(401, 403, 429)},
                },
                "patch": {
                    "operationId": "patchConfig",
                    "summary": "Change some settings (validated as in the admin; needs write)",
                    "security": read,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("ConfigPatch")}},
                    },
                    "responses": {
                        "200": _json(_ref("Config")),
                        **_errors(400, 401, 403, 415, 422, 429),
                    },
                },
            },
            "/api/v1/logs": {
                "get": {
                    "operationId": "listCalls",
                    "summary": "Calls, newest first",
                    "security": read,
                    "parameters": [
                        *DATE_PARAMS,
                        _param("outcome", {"enum": OUTCOMES}, "Only this outcome."),
                        _param("caller_id", {"type": "string"}, "Only this caller (E.164)."),
                        _param("simulated", {"type": "boolean"}, "Only (not) simulated calls."),
                        *PAGE_PARAMS,
                    ],
                    "responses": {"200": _json(_ref("CallPage")), **_errors(400, 401, 403, 429)},
                }
            },
            "/api/v1/calls": {
                "post": {
                    "operationId": "simulateCall",
                    "summary": "Run a simulated call through the receptionist (needs write)",
                    "security": read,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("SimulatedCall")}},
                    },
                    "responses": {
                        "201": _json(_ref("SimulatedCallResult"), "Stored, flagged simulated"),
                        **_errors(400, 401, 403, 415, 422, 429, 503),
                    },
                }
            },
            "/api/v1/calls/{call_id}": {
                "get": {
                    "operationId": "getCall",
                    "summary": "One call with its turns",
                    "security": read,
                    "parameters": [
                        {
                            "name": "call_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "maxLength": 64},
                        }
                    ],
                    "responses": {
                        "200": _json(_ref("CallWithTurns")),
                        **_errors(401, 403, 404, 429),
                    },
                }
            },
            "/api/v1/leads": {
                "get": {
                    "operationId": "listLeads",
                    "summary": "Leads, newest first",
                    "security": read,
                    "parameters": [
                        *DATE_PARAMS,
                        _param(
                            "min_score",
                            {"type": "integer", "minimum": 0, "maximum": 100},
                            "Only leads scoring at least this.",
                        ),
                        _param("status", {"enum": LEAD_STATUSES}, "Only this status."),
                        *PAGE_PARAMS,
                    ],
                    "responses": {"200": _json(_ref("LeadPage")), **_errors(400, 401, 403, 429)},
                }
            },
            "/api/v1/leads/{lead_id}": {
                "get": {
                    "operationId": "getLead",
                    "summary": "One lead",
                    "security": read,
                    "parameters": [
                        {
                            "name": "lead_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 0, "maximum": 2147483647},
                        }
                    ],
                    "responses": {"200": _json(_ref("Lead")), **_errors(401, 403, 404, 429)},
                }
            },
        },
    }
    return doc
