"""Property-based test of the API against its own served OpenAPI document.

Schemathesis reads ``/api/v1/openapi.json`` from the running app (real
``create_app``, real database, real dialogue engine in rules mode), generates
requests for every operation and checks each response: never a 5xx, status
codes and content types the document declares, bodies and headers matching
the declared schemas.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode, checks

from admin_web.api.openapi import build_openapi
from centralino.db.session import Database

from .conftest import ApiWorld, make_api_world


@pytest.fixture
def fuzz_world(db: Database, tmp_path: Path) -> Iterator[ApiWorld]:
    world = make_api_world(db, tmp_path)
    yield world
    world.services.close()


OPERATIONS = sorted(
    (method.upper(), path) for path, item in build_openapi()["paths"].items() for method in item
)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


# schemathesis' own pytest plugin does not run under pytest 9 yet, so each
# operation's strategy is driven by Hypothesis directly.
@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_api_matches_its_openapi_document(
    fuzz_world: ApiWorld, method: str, path: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_world.app)
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {fuzz_world.alfa_write}"}
    seen: dict[int, int] = {}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1

    run()
    print(method, path, mode.value, seen)
    assert seen and all(code < 500 for code in seen)
