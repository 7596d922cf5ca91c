"""Schemathesis, a property-based fuzzer, reads /api/openapi.json from the REAL daemon
and calls every operation with generated requests, as an admin: no answer may be a
5xx, break its declared schema, status or content type.

A modest number of examples per operation keeps it to well under a minute; the
daemon's SQLite task database, outbox mail and one task give the fuzzer real objects
to hit besides 404s.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from src.services.auth.roles import Role
from tests.daemon_harness import DaemonProcess
from tests.services.api.test_api import create, make_space, start

EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@pytest.mark.slow
def test_the_fuzzer_finds_no_5xx_and_no_answer_off_the_document(
    tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    space, tokens = make_space(tmp_path)
    space.write_env(WEBHOOK_RATE_LIMIT="100000")
    api = start(space, tokens, daemons)
    create(api)
    schema = schemathesis.openapi.from_url(f"{api.url}/api/openapi.json")
    headers = {"Authorization": f"Bearer {tokens[Role.ADMIN]}"}
    failures: list[str] = []
    operations = 0
    calls: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            response = case.call_and_validate(base_url=api.url, headers=headers, checks=CHECKS)
            calls.append(response.status_code)

        try:
            call()
        except (AssertionError, FailureGroup) as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert operations >= 20
    assert len(calls) >= 5 * operations  # it really called: statuses seen below
    assert {200, 404}.issubset(calls) and any(code in (400, 422) for code in calls)
    assert failures == [], "\n\n".join(failures)
    assert "Traceback" not in api.daemon.output
