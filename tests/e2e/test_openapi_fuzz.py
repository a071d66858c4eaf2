"""Schema-driven fuzzing of /v1 from the served OpenAPI document (schemathesis): no request gets a 5xx.

Bounded in time: a few seconds per operation and about 25 s in all, on the stack without a request limit.
"""

from __future__ import annotations

import time
import urllib.request

import pytest
from openapi_spec_validator import validate

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

BUDGET_SECONDS = 25.0
EXAMPLES_PER_OPERATION = 40


def test_given_the_served_document_when_fetched_without_a_key_then_it_is_valid_openapi(slow_stack) -> None:
    import json

    with urllib.request.urlopen(f"{slow_stack.api_url}/v1/openapi.json", timeout=30) as resp:
        document = json.loads(resp.read())
    validate(document)
    assert "/v1/jobs/{id}/cancel" in document["paths"]


def test_given_generated_requests_for_every_operation_when_sent_then_none_is_a_server_error(slow_stack) -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings

    schema = schemathesis.openapi.from_url(f"{slow_stack.api_url}/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    deadline = time.monotonic() + BUDGET_SECONDS
    share = BUDGET_SECONDS / len(operations)
    server_errors: list[str] = []
    sent = 0
    window = {"stop_at": deadline}

    for operation in operations:
        window["stop_at"] = min(deadline, time.monotonic() + share)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def send(case) -> None:
            nonlocal sent
            if time.monotonic() > window["stop_at"]:
                return
            if "wait" in (case.body if isinstance(case.body, dict) else {}):
                case.body["wait"] = 0  # a valid body must not hold the fuzzer for 25 s
            response = case.call(base_url=slow_stack.api_url, headers={"x-api-key": slow_stack.api_key}, timeout=30)
            sent += 1
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
                )

        send()

    assert sent >= len(operations) * 5, f"only {sent} requests were sent"
    assert server_errors == []
