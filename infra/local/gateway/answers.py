"""API Gateway's own answers (no route, too large, a failed integration), shaped as the template says.

Each takes the template's ``AWS::ApiGateway::GatewayResponse`` of its type (then DEFAULT_4XX /
DEFAULT_5XX) as API Gateway does: status, headers and the ``application/json`` template, with
``$context.requestId`` and ``$context.error.message(String)`` filled in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .proxy import HeaderDict

MAX_BODY_BYTES = 10 * 1024 * 1024
# API Gateway's own answers: (status, response type, message); the template's gateway responses shape them.
TOO_LARGE = (413, "REQUEST_TOO_LARGE", "Request Too Long")
NO_ROUTE = (403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
BAD_GATEWAY = (502, "DEFAULT_5XX", "Internal server error")
NOT_PLAYED = (500, "DEFAULT_5XX", "Internal server error")


@dataclass(frozen=True)
class GatewayResponse:
    """One ``AWS::ApiGateway::GatewayResponse`` of the template."""

    status: int | None
    headers: dict[str, str]
    template: str | None

    @classmethod
    def from_properties(cls, props: dict[str, Any]) -> GatewayResponse:
        headers = {}
        for key, value in (props.get("ResponseParameters") or {}).items():
            prefix = "gatewayresponse.header."
            if key.startswith(prefix) and isinstance(value, str):
                headers[key[len(prefix) :]] = value[1:-1] if value.startswith("'") and value.endswith("'") else value
        status = props.get("StatusCode")
        template = (props.get("ResponseTemplates") or {}).get("application/json")
        return cls(int(status) if status else None, headers, template if isinstance(template, str) else None)


def gateway_responses(template: dict[str, Any]) -> dict[str, GatewayResponse]:
    """The template's gateway responses by response type."""
    found = [
        r.get("Properties") or {}
        for r in (template.get("Resources") or {}).values()
        if r.get("Type") == "AWS::ApiGateway::GatewayResponse"
    ]
    return {str(p.get("ResponseType")): GatewayResponse.from_properties(p) for p in found}


def json_response(status: int, body: dict[str, Any], request_id: str) -> tuple[int, HeaderDict, bytes]:
    headers = HeaderDict()
    headers.add("Content-Type", "application/json")
    headers.add("x-amzn-RequestId", request_id)
    if status == 403:
        headers.add("x-amzn-ErrorType", "MissingAuthenticationTokenException")
    return status, headers, json.dumps(body).encode()


def gateway_answer(
    gateway_responses: Mapping[str, GatewayResponse], answer: tuple[int, str, str], request_id: str
) -> tuple[int, HeaderDict, bytes]:
    """API Gateway's own answer (no route, too large, a failed integration), shaped by the template's
    gateway response of that type, else DEFAULT_4XX/5XX, else API Gateway's built-in `{message}`."""
    status, response_type, message = answer
    default = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
    shaped = gateway_responses.get(response_type) or gateway_responses.get(default)
    if shaped is None or shaped.template is None:
        return json_response(status, {"message": message}, request_id)
    body = (
        shaped.template.replace("$context.requestId", request_id)
        .replace("$context.error.messageString", json.dumps(message))
        .replace("$context.error.message", message)
    )
    out_status, headers, _ = json_response(shaped.status or status, {}, request_id)
    for name, value in shaped.headers.items():
        headers.set(name, value)
    return out_status, headers, body.encode()
