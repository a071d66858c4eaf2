"""API Gateway (REST, v1) played locally in front of the in-process Lambda functions.

Routes come from the synthesized template (``AWS::ApiGateway::RestApi/Resource/Method``): full
paths from the ``ParentId`` chains, ``{param}`` and ``{proxy+}`` parts, ``ANY``, ``AWS_PROXY``
integrations (the ``Uri`` names the function) and ``MOCK`` integrations (CORS preflight:
the first IntegrationResponse's headers and status). ``handle()`` builds the Lambda proxy event as
API Gateway does, invokes the function (RequestResponse) and maps the proxy response back;
``serve()`` puts it behind a local HTTP server.

Like API Gateway: no route (or no method on it) -> 403 ``Missing Authentication Token``; a Lambda
error or a malformed proxy response -> 502 ``Internal server error``; a body over 10 MB -> 413 (the body
is read and dropped first, so the client sees the answer rather than a broken pipe). Each of these
answers takes the template's ``AWS::ApiGateway::GatewayResponse`` of its type (then DEFAULT_4XX /
DEFAULT_5XX) as API Gateway does: status, headers and the ``application/json`` template, with
``$context.requestId`` and ``$context.error.message(String)`` filled in.
A leading ``/<stage>`` in the request path is accepted and stripped (so both the local
``http://host:port/jobs`` and the AWS-shaped ``http://host:port/prod/jobs`` work). Not played:
authorizers, API keys, usage plans, request validation, mapping templates, non-proxy integrations,
OpenAPI ``Body`` APIs (SpecRestApi), the 29 s integration timeout.
"""

from __future__ import annotations

import json
import logging
import uuid
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .answers import BAD_GATEWAY, MAX_BODY_BYTES, NO_ROUTE, NOT_PLAYED, TOO_LARGE, gateway_answer, gateway_responses
from .proxy import HeaderDict, build_event, map_response
from .routes import Route, build_routes, find_route

if TYPE_CHECKING:
    from infra.local.deployer import Deployment

__all__ = ["MAX_BODY_BYTES", "Gateway", "HeaderDict", "Route"]

LOG = logging.getLogger(__name__)


class Gateway:
    """API Gateway REST proxy in front of the deployed functions."""

    def __init__(self, template: dict[str, Any], deployment: Deployment, *, lambda_client: Any, stage: str = "prod"):
        self.template = template
        self.deployment = deployment
        self.lambda_client = lambda_client
        self.stage = stage
        self.gateway_responses = gateway_responses(template)
        self.routes: list[Route] = build_routes(template, deployment)

    def find_route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        return find_route(self.routes, method, path)

    def gateway_answer(self, answer: tuple[int, str, str], request_id: str) -> tuple[int, HeaderDict, bytes]:
        """API Gateway's own answer, shaped by the template's gateway responses (see ``answers``)."""
        return gateway_answer(self.gateway_responses, answer, request_id)

    def handle(
        self,
        method: str,
        path: str,
        headers: Any = None,
        query: Any = None,
        body: bytes | str | None = None,
        *,
        source_ip: str = "127.0.0.1",
    ) -> tuple[int, HeaderDict, bytes]:
        """One request through the gateway: ``(status, headers, body)``.

        ``headers``: a mapping (values may be lists) or ``(name, value)`` pairs; ``query``: a raw
        query string, a mapping (values may be lists) or pairs; ``body``: bytes or text.
        """
        request_id = str(uuid.uuid4())
        method = method.upper()
        split = urlsplit(path)
        path = split.path or "/"
        if split.query and not query:
            query = split.query
        if path == f"/{self.stage}" or path.startswith(f"/{self.stage}/"):
            path = path[len(self.stage) + 1 :] or "/"
        raw = body.encode("utf-8") if isinstance(body, str) else (body or b"")
        if len(raw) > MAX_BODY_BYTES:
            return self.gateway_answer(TOO_LARGE, request_id)

        found = self.find_route(method, path)
        if found is None:
            return self.gateway_answer(NO_ROUTE, request_id)
        route, params = found

        if route.integration_type == "MOCK":
            out = HeaderDict()
            for k, v in route.mock_headers.items():
                out.add(k, v)
            out.add("x-amzn-RequestId", request_id)
            if route.mock_status != 204:
                out.add("Content-Type", "application/json")
            return route.mock_status, out, b""
        if route.integration_type != "AWS_PROXY" or not route.function_name:
            return self.gateway_answer(NOT_PLAYED, request_id)

        event = build_event(
            route,
            method,
            path,
            params,
            headers,
            query,
            raw,
            request_id,
            source_ip,
            stage=self.stage,
            account=self.deployment.account,
        )
        try:
            response = self.lambda_client.invoke(
                FunctionName=route.function_name,
                InvocationType="RequestResponse",
                Payload=json.dumps(event).encode(),
            )
        except Exception:
            LOG.exception("invoke of %s failed", route.function_name)
            return self.gateway_answer(BAD_GATEWAY, request_id)
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            LOG.warning("%s %s: function error %s", method, path, payload[:2000])
            return self.gateway_answer(BAD_GATEWAY, request_id)
        mapped = map_response(payload, request_id, method, path)
        return self.gateway_answer(BAD_GATEWAY, request_id) if mapped is None else mapped

    def serve(self, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
        """Serve the gateway over HTTP in a daemon thread (``server.shutdown()`` stops it)."""
        from .server import serve

        return serve(self, host, port)
