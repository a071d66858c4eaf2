"""GET /v1/openapi.json: a valid OpenAPI 3.1 document that covers every native route and error code."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate
from pydantic import ValidationError
from swapflow.api_models import JobRequestBody, request_error
from swapflow.api_spec import ERROR_CODES, openapi_document
from swapflow.handlers.api import app
from swapflow.http_errors import STATUS_BY_CODE
from swapflow.jobs.exceptions import RequestInvalidError
from swapflow.jobs.validation import parse_job_request


def _documented_path(path: str) -> str:
    """`/v1/jobs/<job_id>` -> `/v1/jobs/{id}` (ids share one name); other parameters keep theirs."""
    return re.sub(r"<(\w+)>", lambda m: "{id}" if m[1].endswith("id") else f"{{{m[1]}}}", path)


def served_routes() -> set[tuple[str, str]]:
    """(METHOD, /path/{param}) of every /v1 route the api handler serves."""
    routes = getattr(app, "_static_routes", []) + getattr(app, "_dynamic_routes", [])
    return {(route.method.upper(), _documented_path(route.path)) for route in routes if route.path.startswith("/v1/")}


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
        assert code in openapi_document()["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["enum"]


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


# ---- one definition: the document's schemas are the models the API validates with ------------------------

PROVIDERS = ("engine", "akool", "wavespeed-akool", "wavespeed-pro", "auto")


def parse(body: Any) -> Any:
    return parse_job_request(body, providers=PROVIDERS, default_provider="engine")


def request_schema() -> dict[str, Any]:
    document = openapi_document()
    ref = document["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def test_given_the_job_request_schema_when_read_then_it_is_the_model_closed_and_with_examples() -> None:
    schema = request_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(JobRequestBody.model_fields)
    assert schema["examples"]
    for example in schema["examples"]:  # every documented example is a request the API accepts
        assert parse(example).target_image == example["target_image"]


def _bounded(schema: dict[str, Any]) -> dict[str, Any]:
    """The property's schema without its `null` alternative."""
    return next((s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"), schema)


@pytest.mark.parametrize("name", ["target_index", "wait"])
def test_given_a_documented_bound_when_crossed_then_the_parser_refuses_naming_the_field(name: str) -> None:
    bounds = _bounded(request_schema()["properties"][name])
    body = {"source_image": "https://a.example/s.jpg", "target_image": "https://a.example/t.jpg"}
    assert getattr(parse({**body, name: bounds["maximum"]}), name) == bounds["maximum"]
    for outside in (bounds["minimum"] - 1, bounds["maximum"] + 1):
        with pytest.raises(RequestInvalidError) as refused:
            parse({**body, name: outside})
        assert (refused.value.code, refused.value.field) == ("invalid_request", name)


def test_given_the_document_when_read_then_servers_and_the_error_code_table_are_there() -> None:
    document = openapi_document()
    assert document["servers"][0]["url"] == "/"
    for code, (status, _) in ERROR_CODES.items():
        assert f"| `{code}` | {status} |" in document["info"]["description"]


def test_given_pydantic_errors_when_mapped_then_our_envelope_with_a_dotted_path_and_unknown_fields_first() -> None:
    with pytest.raises(ValidationError) as caught:
        JobRequestBody.model_validate({"target_image": 3, "faces": [{"source_image": "x", "target_face": -1}]})
    error = request_error(caught.value.errors(), ERROR_CODES)
    assert (error.code, error.field) == ("invalid_request", "target_image")
    nested = request_error([e for e in caught.value.errors() if e["loc"][0] == "faces"], ERROR_CODES)
    assert nested.field == "faces[0].target_face"
    body_errors = [
        {"type": "int_type", "loc": ("body", "a", 0), "msg": "x"},
        {"type": "extra_forbidden", "loc": ("body", "z"), "msg": "y"},
    ]
    assert request_error(body_errors, ERROR_CODES).field == "z"  # the location kind ("body") is not a field
    assert request_error([{"type": "missing", "loc": ("body",), "input": None}], ERROR_CODES).code == "invalid_json"
