"""GET /v1/openapi.json: a valid OpenAPI 3.1 document that covers every native route and error code."""

from __future__ import annotations

import re

from openapi_spec_validator import validate
from swapflow.api_spec import ERROR_CODES, openapi_document
from swapflow.handlers.api import app
from swapflow.handlers.errors import STATUS_BY_CODE


def _documented_path(path: str) -> str:
    """`/v1/jobs/<job_id>` -> `/v1/jobs/{id}` (ids share one name); other parameters keep theirs."""
    return re.sub(r"<(\w+)>", lambda m: "{id}" if m[1].endswith("id") else f"{{{m[1]}}}", path)


def served_routes() -> set[tuple[str, str]]:
    """(METHOD, /path/{param}) of every /v1 route the api handler serves."""
    routes = getattr(app, "_static_routes", []) + getattr(app, "_dynamic_routes", [])
    return {
        (route.method.upper(), _documented_path(route.path))
        for route in routes
        if route.path.startswith("/v1/")
    }


def test_given_the_document_when_validated_then_it_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_given_the_api_handler_when_its_routes_are_listed_then_each_is_in_the_document() -> None:
    paths = openapi_document()["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}
    served = served_routes()
    assert {("POST", "/v1/jobs"), ("GET", "/v1/jobs"), ("POST", "/v1/jobs/{id}/cancel")} <= served
    assert served - documented == set(), "routes served but not in api_spec.py"


def test_given_the_error_table_when_compared_then_every_code_is_documented_with_its_status() -> None:
    for code, status in STATUS_BY_CODE.items():
        assert ERROR_CODES[code][0] == status, code
    for code in ("invalid_json", "invalid_request", "unauthorized", "not_found", "conflict", "throttled"):
        assert (
            code
            in openapi_document()["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["enum"]
        )


def test_given_an_operation_when_read_then_it_documents_auth_throttling_and_server_errors() -> None:
    document = openapi_document()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if operation.get("security") == []:
                continue
            assert {"401", "429", "500"} <= set(operation["responses"]), (method, path)
    throttled = document["components"]["responses"]["E429"]
    assert "Retry-After" in throttled["headers"]


def test_given_the_document_when_read_then_prefer_cancel_after_and_the_ratelimit_headers_are_described() -> None:
    document = openapi_document()
    create = document["paths"]["/v1/jobs"]["post"]
    assert {"Idempotency-Key", "Prefer", "Cancel-After"} <= {p["name"] for p in create["parameters"]}
    for status in ("200", "202"):
        assert {"Preference-Applied", "RateLimit", "RateLimit-Policy"} <= set(create["responses"][status]["headers"])
    throttled = document["components"]["responses"]["E429"]["headers"]
    assert {"RateLimit", "RateLimit-Policy", "Retry-After"} <= set(throttled)
    get = document["paths"]["/v1/jobs/{id}"]["get"]["responses"]["200"]
    assert "RateLimit" in get["headers"]
