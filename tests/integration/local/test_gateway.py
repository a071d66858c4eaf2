"""infra.local.gateway against a hand-written REST API template and a fake Lambda client."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest

from infra.local.deployer import Deployment
from infra.local.gateway import MAX_BODY_BYTES, Gateway


def _uri(fn: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":apigateway:us-east-1:lambda:path/2015-03-31/functions/",
                {"Fn::GetAtt": [fn, "Arn"]},
                "/invocations",
            ],
        ]
    }


def _resource(parent: Any, part: str) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGateway::Resource",
        "Properties": {"ParentId": parent, "PathPart": part, "RestApiId": {"Ref": "Api"}},
    }


def _method(resource: Any, method: str, fn: str = "Fn") -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGateway::Method",
        "Properties": {
            "HttpMethod": method,
            "ResourceId": resource,
            "RestApiId": {"Ref": "Api"},
            "Integration": {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST", "Uri": _uri(fn)},
        },
    }


ROOT = {"Fn::GetAtt": ["Api", "RootResourceId"]}
TEMPLATE = {
    "Resources": {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "api"}},
        "Jobs": _resource(ROOT, "jobs"),
        "JobsSearch": _resource({"Ref": "Jobs"}, "search"),
        "Job": _resource({"Ref": "Jobs"}, "{job_id}"),
        "JobResult": _resource({"Ref": "Job"}, "result"),
        "Files": _resource(ROOT, "files"),
        "FilesProxy": _resource({"Ref": "Files"}, "{proxy+}"),
        "JobsPost": _method({"Ref": "Jobs"}, "POST"),
        "JobsSearchGet": _method({"Ref": "JobsSearch"}, "GET", "Other"),
        "JobGet": _method({"Ref": "Job"}, "GET"),
        "JobResultGet": _method({"Ref": "JobResult"}, "GET"),
        "FilesAny": _method({"Ref": "FilesProxy"}, "ANY"),
        "JobsOptions": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "HttpMethod": "OPTIONS",
                "ResourceId": {"Ref": "Jobs"},
                "RestApiId": {"Ref": "Api"},
                "Integration": {
                    "Type": "MOCK",
                    "IntegrationResponses": [
                        {
                            "StatusCode": "204",
                            "ResponseParameters": {
                                "method.response.header.Access-Control-Allow-Origin": "'https://app'",
                                "method.response.header.Access-Control-Allow-Methods": "'GET,POST'",
                            },
                        }
                    ],
                },
            },
        },
    }
}


class FakeLambda:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.response: Any = {"statusCode": 200, "body": "ok"}
        self.error = False

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert InvocationType == "RequestResponse"
        self.calls.append((FunctionName, json.loads(Payload)))
        out: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.response).encode())}
        if self.error:
            out["FunctionError"] = "Unhandled"
        return out


@pytest.fixture
def fake() -> FakeLambda:
    return FakeLambda()


@pytest.fixture
def gateway(fake: FakeLambda) -> Gateway:
    dep = Deployment(region="us-east-1", account="123456789012", stack_name="S")
    dep.functions = {"Fn": "main-fn", "Other": "other-fn"}
    dep.physical = {"Api": "abc123"}
    return Gateway(TEMPLATE, dep, lambda_client=fake)


def test_GIVEN_template_WHEN_gateway_built_THEN_full_paths_come_from_parent_chains(gateway: Gateway) -> None:
    assert {(r.method, r.resource_path) for r in gateway.routes} == {
        ("POST", "/jobs"),
        ("GET", "/jobs/search"),
        ("GET", "/jobs/{job_id}"),
        ("GET", "/jobs/{job_id}/result"),
        ("ANY", "/files/{proxy+}"),
        ("OPTIONS", "/jobs"),
    }


def test_GIVEN_literal_and_param_routes_WHEN_matched_THEN_literal_wins(gateway: Gateway, fake: FakeLambda) -> None:
    gateway.handle("GET", "/jobs/search", {}, None, None)
    gateway.handle("GET", "/jobs/j-1", {}, None, None)
    gateway.handle("GET", "/prod/jobs/j-2/result", {}, None, None)
    assert [(name, e["resource"], e["pathParameters"]) for name, e in fake.calls] == [
        ("other-fn", "/jobs/search", None),
        ("main-fn", "/jobs/{job_id}", {"job_id": "j-1"}),
        ("main-fn", "/jobs/{job_id}/result", {"job_id": "j-2"}),
    ]
    assert fake.calls[2][1]["requestContext"]["path"] == "/prod/jobs/j-2/result"
    assert fake.calls[2][1]["path"] == "/jobs/j-2/result"


def test_GIVEN_greedy_proxy_WHEN_any_method_THEN_rest_of_path_is_the_proxy_param(
    gateway: Gateway, fake: FakeLambda
) -> None:
    status, _, _ = gateway.handle("DELETE", "/files/a/b/c.png", {}, None, None)
    assert status == 200
    assert fake.calls[0][1]["pathParameters"] == {"proxy": "a/b/c.png"}
    assert fake.calls[0][1]["httpMethod"] == "DELETE"


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("DELETE", "/jobs"), ("GET", "/files")])
def test_GIVEN_no_route_or_method_WHEN_requested_THEN_403_missing_authentication_token(
    gateway: Gateway, fake: FakeLambda, method: str, path: str
) -> None:
    status, headers, body = gateway.handle(method, path, {}, None, None)
    assert status == 403
    assert json.loads(body) == {"message": "Missing Authentication Token"}
    assert headers["Content-Type"] == "application/json"
    assert fake.calls == []


def test_GIVEN_request_WHEN_proxied_THEN_event_has_api_gateway_shape(gateway: Gateway, fake: FakeLambda) -> None:
    gateway.handle(
        "POST",
        "/jobs?x=1",
        [("Content-Type", "application/json"), ("X-Multi", "a"), ("X-Multi", "b"), ("Host", "api.local")],
        None,
        '{"a": 1}',
        source_ip="10.0.0.9",
    )
    event = fake.calls[0][1]
    assert event["headers"]["X-Multi"] == "b"
    assert event["multiValueHeaders"]["X-Multi"] == ["a", "b"]
    assert event["queryStringParameters"] == {"x": "1"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1"]}
    assert event["body"] == '{"a": 1}' and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["identity"]["sourceIp"] == "10.0.0.9"
    assert ctx["stage"] == "prod" and ctx["resourcePath"] == "/jobs" and ctx["httpMethod"] == "POST"
    assert ctx["domainName"] == "api.local" and ctx["apiId"] == "abc123"
    assert isinstance(ctx["requestTimeEpoch"], int) and ctx["requestId"]
    assert event["stageVariables"] is None and event["pathParameters"] is None


def test_GIVEN_binary_content_type_WHEN_proxied_THEN_body_is_base64(gateway: Gateway, fake: FakeLambda) -> None:
    gateway.handle("POST", "/jobs", {"Content-Type": "application/octet-stream"}, None, b"\x00\x01\xff")
    event = fake.calls[0][1]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\x01\xff"


def test_GIVEN_function_error_WHEN_proxied_THEN_502(gateway: Gateway, fake: FakeLambda) -> None:
    fake.error = True
    fake.response = {"errorType": "X", "errorMessage": "m"}
    status, _, body = gateway.handle("POST", "/jobs", {}, None, None)
    assert status == 502 and json.loads(body) == {"message": "Internal server error"}


def test_GIVEN_malformed_proxy_response_WHEN_proxied_THEN_502(gateway: Gateway, fake: FakeLambda) -> None:
    fake.response = {"body": "no status"}
    status, _, _ = gateway.handle("POST", "/jobs", {}, None, None)
    assert status == 502


def test_GIVEN_proxy_response_WHEN_mapped_THEN_status_headers_and_base64_body(
    gateway: Gateway, fake: FakeLambda
) -> None:
    fake.response = {
        "statusCode": 202,
        "headers": {"X-One": "1", "Content-Type": "image/png"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": base64.b64encode(b"\x89PNG").decode(),
        "isBase64Encoded": True,
    }
    status, headers, body = gateway.handle("POST", "/jobs", {}, None, None)
    assert status == 202 and body == b"\x89PNG"
    assert headers["X-One"] == "1" and headers["Content-Type"] == "image/png"
    assert headers.multi["Set-Cookie"] == ["a=1", "b=2"]
    assert headers["x-amzn-RequestId"]


def test_GIVEN_body_over_10mb_WHEN_posted_THEN_413(gateway: Gateway, fake: FakeLambda) -> None:
    status, _, _ = gateway.handle("POST", "/jobs", {}, None, b"x" * (MAX_BODY_BYTES + 1))
    assert status == 413 and fake.calls == []


def test_GIVEN_options_mock_WHEN_preflight_THEN_integration_response_headers(
    gateway: Gateway, fake: FakeLambda
) -> None:
    status, headers, body = gateway.handle("OPTIONS", "/jobs", {}, None, None)
    assert status == 204 and body == b""
    assert headers["Access-Control-Allow-Origin"] == "https://app"
    assert headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert fake.calls == []


def test_GIVEN_the_stacks_gateway_responses_WHEN_the_gateway_answers_itself_THEN_they_shape_each_answer(
    fake: FakeLambda,
) -> None:
    """The template's AWS::ApiGateway::GatewayResponse resources, as the real stack synthesises them."""
    from infra.constructs.api import GATEWAY_RESPONSES, gateway_response_template

    responses = {
        f"Gw{name}": {
            "Type": "AWS::ApiGateway::GatewayResponse",
            "Properties": {
                "ResponseType": name,
                "RestApiId": {"Ref": "Api"},
                **({"StatusCode": status} if status else {}),
                "ResponseTemplates": {"application/json": gateway_response_template(code, message)},
                **(
                    {"ResponseParameters": {"gatewayresponse.header.Retry-After": "'1'"}} if name == "THROTTLED" else {}
                ),
            },
        }
        for name, (status, code, message) in GATEWAY_RESPONSES.items()
    }
    dep = Deployment(region="us-east-1", account="123456789012", stack_name="S")
    dep.functions = {"Fn": "main-fn", "Other": "other-fn"}
    gateway = Gateway({"Resources": {**TEMPLATE["Resources"], **responses}}, dep, lambda_client=fake)

    status, headers, body = gateway.handle("GET", "/nope", {}, None, None)
    error = json.loads(body)["error"]
    assert status == 404 and error["code"] == "not_found" and error["request_id"] == headers["x-amzn-RequestId"]
    status, _, body = gateway.handle("POST", "/jobs", {}, None, b"x" * (MAX_BODY_BYTES + 1))
    error = json.loads(body)["error"]
    assert status == 413 and error["code"] == "request_too_large"
    assert "10 MB" in error["message"] and "/v1/uploads" in error["message"]
    fake.error = True  # the function failed: API Gateway's 502
    status, _, body = gateway.handle("POST", "/jobs", {}, None, b"{}")
    assert status == 502 and json.loads(body)["error"]["code"] == "internal"
