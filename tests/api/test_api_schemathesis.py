"""schemathesis against the service's own OpenAPI 3.1: no 5xx, responses match the schema.

Every operation is called with a key of the role it is meant for, so generated bodies reach the
handlers (and their validation) rather than stopping at 401.
"""

from __future__ import annotations

import warnings
from typing import Any

from apikit import World
from hypothesis import HealthCheck, given, settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
EXAMPLES = 15
ROLE_BY_PREFIX = (("/v1/me", "me"), ("/v1/events", "bank"), ("/v1/outbox", "bank"),
                  ("/v1/disputes", "reviewer"), ("/v1/admin", "admin"), ("/v1/scores", "reader"),
                  ("/v1/decisions", "reader"))


def load_schema(world: World) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return schemathesis.openapi.from_asgi("/openapi.json", world.client.app)


def runner(op: Any, headers: dict[str, str]) -> Any:
    """A hypothesis test over one operation's generated cases, called with ``headers``."""

    @given(case=op.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            case.call_and_validate(headers=headers, checks=CHECKS)

    return run


def test_schemathesis_openapi_is_3_1(shared_world: World) -> None:
    doc = shared_world.client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert "ErrorBody" in doc["components"]["schemas"]


def test_schemathesis_no_server_errors_and_conforming_responses(shared_world: World) -> None:
    """Every operation, a modest number of generated cases each (the run stays short)."""
    operations = [r.ok() for r in load_schema(shared_world).get_all_operations()]
    assert len(operations) >= 20
    failures: list[str] = []
    for op in operations:
        role = next((r for prefix, r in ROLE_BY_PREFIX if op.path.startswith(prefix)), None)
        headers = shared_world.h(role) if role else {}

        try:
            runner(op, headers)()
        except Exception as exc:
            failures.append(f"{op.method.upper()} {op.path}: {exc}")
    assert failures == []
