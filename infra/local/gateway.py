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

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from infra.local.deployer import Deployment

LOG = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024
# A body over the limit is still read (and dropped) up to this size, so the client gets the 413.
MAX_DRAINED_BYTES = 256 * 1024 * 1024
# API Gateway's own answers: (status, response type, message); the template's gateway responses shape them.
TOO_LARGE = (413, "REQUEST_TOO_LARGE", "Request Too Long")
NO_ROUTE = (403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
BAD_GATEWAY = (502, "DEFAULT_5XX", "Internal server error")
NOT_PLAYED = (500, "DEFAULT_5XX", "Internal server error")

_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
    "application/graphql",
)


class HeaderDict(dict[str, str]):
    """Response headers: one value per name (the last), all values in ``multi``."""

    def __init__(self) -> None:
        super().__init__()
        self.multi: dict[str, list[str]] = {}

    def add(self, name: str, value: str) -> None:
        for existing in list(self):
            if existing.lower() == name.lower() and existing != name:
                self.multi[name] = self.multi.pop(existing)
                del self[existing]
        self.multi.setdefault(name, []).append(value)
        self[name] = value

    def set(self, name: str, value: str) -> None:
        for existing in list(self):
            if existing.lower() == name.lower():
                del self[existing]
                self.multi.pop(existing, None)
        self.add(name, value)

    def get_ci(self, name: str) -> str | None:
        for key, value in self.items():
            if key.lower() == name.lower():
                return value
        return None

    def items_all(self) -> Iterable[tuple[str, str]]:
        for name, values in self.multi.items():
            for value in values:
                yield name, value


@dataclass
class Route:
    api_id: str
    resource_path: str
    method: str
    integration_type: str
    function_name: str | None = None
    mock_status: int = 200
    mock_headers: dict[str, str] = field(default_factory=dict)
    binary_media_types: tuple[str, ...] = ()
    resource_id: str = ""

    @property
    def parts(self) -> list[str]:
        return [p for p in self.resource_path.split("/") if p]

    def match(self, path_parts: list[str]) -> dict[str, str] | None:
        params: dict[str, str] = {}
        parts = self.parts
        for i, part in enumerate(parts):
            if part.startswith("{") and part.endswith("+}"):
                if i >= len(path_parts):
                    return None
                params[part[1:-2]] = "/".join(path_parts[i:])
                return params
            if i >= len(path_parts):
                return None
            if part.startswith("{") and part.endswith("}"):
                params[part[1:-1]] = path_parts[i]
            elif part != path_parts[i]:
                return None
        return params if len(parts) == len(path_parts) else None

    def specificity(self) -> tuple[int, int, int]:
        parts = self.parts
        literal = sum(1 for p in parts if not p.startswith("{"))
        greedy = any(p.endswith("+}") for p in parts)
        return (0 if greedy else 1, literal, len(parts))


def _refs_to(value: Any, candidates: Mapping[str, Any]) -> str | None:
    """The first logical id in ``candidates`` referenced (Ref/GetAtt) inside ``value``."""
    if isinstance(value, list):
        for v in value:
            found = _refs_to(v, candidates)
            if found:
                return found
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str) and arg in candidates:
                return arg
            if key == "Fn::GetAtt":
                lid = arg.split(".", 1)[0] if isinstance(arg, str) else arg[0]
                if lid in candidates:
                    return str(lid)
            found = _refs_to(arg, candidates)
            if found:
                return found
    elif isinstance(value, str):
        match = re.search(r"functions/(arn:[^/]+)/invocations", value)
        if match:
            for lid, name in candidates.items():
                if name in match.group(1):
                    return lid
    return None


def _mock_headers(integration: dict[str, Any]) -> tuple[int, dict[str, str]]:
    responses = integration.get("IntegrationResponses") or [{}]
    first = responses[0]
    headers: dict[str, str] = {}
    for key, value in (first.get("ResponseParameters") or {}).items():
        prefix = "method.response.header."
        if key.startswith(prefix) and isinstance(value, str):
            headers[key[len(prefix) :]] = value[1:-1] if value.startswith("'") and value.endswith("'") else value
    return int(first.get("StatusCode", 200)), headers


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


class _Server(ThreadingHTTPServer):
    """Many clients connect at once: a listen backlog of 5 (the default) resets the sixth."""

    request_queue_size = 128
    daemon_threads = True


class Gateway:
    """API Gateway REST proxy in front of the deployed functions."""

    def __init__(self, template: dict[str, Any], deployment: Deployment, *, lambda_client: Any, stage: str = "prod"):
        self.template = template
        self.deployment = deployment
        self.lambda_client = lambda_client
        self.stage = stage
        self.routes: list[Route] = []
        found = [
            r.get("Properties") or {}
            for r in (template.get("Resources") or {}).values()
            if r.get("Type") == "AWS::ApiGateway::GatewayResponse"
        ]
        self.gateway_responses = {str(p.get("ResponseType")): GatewayResponse.from_properties(p) for p in found}
        self._build_routes()

    # ------------------------------------------------------------------ routes
    def _build_routes(self) -> None:
        resources = self.template.get("Resources", {}) or {}
        apis = {lid: r for lid, r in resources.items() if r.get("Type") == "AWS::ApiGateway::RestApi"}
        if len(apis) > 1:
            LOG.warning("%d REST APIs in the template: their routes are merged", len(apis))
        api_resources = {lid: r for lid, r in resources.items() if r.get("Type") == "AWS::ApiGateway::Resource"}
        for lid, api in apis.items():
            if (api.get("Properties") or {}).get("Body") or (api.get("Properties") or {}).get("BodyS3Location"):
                LOG.warning("REST API %s is defined by an OpenAPI body: not played locally", lid)

        def path_of(resource_ref: Any) -> tuple[str, str, str] | None:
            """(api logical id, path, resource id) of a ResourceId/ParentId value."""
            api_lid = _refs_to(resource_ref, apis)
            res_lid = _refs_to(resource_ref, api_resources)
            if res_lid:
                props = api_resources[res_lid].get("Properties", {})
                parent = path_of(props.get("ParentId"))
                if parent is None:
                    return None
                api_id, parent_path, _ = parent
                return api_id, parent_path.rstrip("/") + "/" + str(props.get("PathPart")), res_lid
            if api_lid:
                return api_lid, "/", f"{api_lid}-root"
            return None

        functions = self.deployment.functions
        for lid, spec in resources.items():
            if spec.get("Type") != "AWS::ApiGateway::Method":
                continue
            props = spec.get("Properties", {}) or {}
            located = path_of(props.get("ResourceId"))
            if located is None:
                LOG.warning("method %s: cannot locate its resource; skipped", lid)
                continue
            api_lid, path, res_id = located
            api_props = apis[api_lid].get("Properties", {}) or {}
            integration = props.get("Integration") or {}
            itype = str(integration.get("Type", "")).upper()
            route = Route(
                api_id=self.deployment.physical.get(api_lid, api_lid),
                resource_path=path,
                method=str(props.get("HttpMethod", "ANY")).upper(),
                integration_type=itype,
                binary_media_types=tuple(api_props.get("BinaryMediaTypes") or ()),
                resource_id=self.deployment.physical.get(res_id, res_id),
            )
            if itype == "AWS_PROXY":
                fn_lid = _refs_to(integration.get("Uri"), functions)
                if fn_lid is None:
                    LOG.warning(
                        "method %s %s: integration does not name a deployed function; skipped",
                        route.method,
                        path,
                    )
                    continue
                route.function_name = functions[fn_lid]
            elif itype == "MOCK":
                route.mock_status, route.mock_headers = _mock_headers(integration)
            else:
                LOG.warning("method %s %s: %s integrations are not played locally", route.method, path, itype)
            self.routes.append(route)

    def find_route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        parts = [p for p in path.split("/") if p]
        best: tuple[tuple[int, int, int], Route, dict[str, str]] | None = None
        for route in self.routes:
            if route.method not in (method, "ANY"):
                continue
            params = route.match(parts)
            if params is None:
                continue
            score = (*route.specificity()[:2], 1 if route.method == method else 0)
            if best is None or score > best[0]:
                best = (score, route, params)  # type: ignore[assignment]
        if best is None:
            return None
        return best[1], best[2]

    # ------------------------------------------------------------------ requests
    @staticmethod
    def _header_pairs(headers: Any) -> list[tuple[str, str]]:
        if headers is None:
            return []
        if isinstance(headers, Mapping):
            pairs: list[tuple[str, str]] = []
            for k, v in headers.items():
                if isinstance(v, (list, tuple)):
                    pairs.extend((str(k), str(x)) for x in v)
                else:
                    pairs.append((str(k), str(v)))
            return pairs
        if hasattr(headers, "items") and callable(headers.items):
            return [(str(k), str(v)) for k, v in headers.items()]
        return [(str(k), str(v)) for k, v in headers]

    @staticmethod
    def _query_pairs(query: Any) -> list[tuple[str, str]]:
        if not query:
            return []
        if isinstance(query, (str, bytes)):
            text = query.decode() if isinstance(query, bytes) else query
            return parse_qsl(text.lstrip("?"), keep_blank_values=True)
        if isinstance(query, Mapping):
            pairs: list[tuple[str, str]] = []
            for k, v in query.items():
                if isinstance(v, (list, tuple)):
                    pairs.extend((str(k), str(x)) for x in v)
                else:
                    pairs.append((str(k), str(v)))
            return pairs
        return [(str(k), str(v)) for k, v in query]

    @staticmethod
    def _is_binary(content_type: str, binary_media_types: tuple[str, ...], raw: bytes) -> bool:
        ctype = content_type.split(";", 1)[0].strip().lower()
        for pattern in binary_media_types:
            pattern = pattern.lower().replace("~1", "/")
            if pattern == "*/*" or pattern == ctype or (pattern.endswith("/*") and ctype.startswith(pattern[:-1])):
                return True
        if ctype and not (ctype.startswith(_TEXT_TYPES) or ctype.endswith(("+json", "+xml"))):
            return True
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False

    def _json_response(self, status: int, body: dict[str, Any], request_id: str) -> tuple[int, HeaderDict, bytes]:
        headers = HeaderDict()
        headers.add("Content-Type", "application/json")
        headers.add("x-amzn-RequestId", request_id)
        if status == 403:
            headers.add("x-amzn-ErrorType", "MissingAuthenticationTokenException")
        return status, headers, json.dumps(body).encode()

    def gateway_answer(self, answer: tuple[int, str, str], request_id: str) -> tuple[int, HeaderDict, bytes]:
        """API Gateway's own answer (no route, too large, a failed integration), shaped by the template's
        gateway response of that type, else DEFAULT_4XX/5XX, else API Gateway's built-in `{message}`."""
        status, response_type, message = answer
        default = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        shaped = self.gateway_responses.get(response_type) or self.gateway_responses.get(default)
        if shaped is None or shaped.template is None:
            return self._json_response(status, {"message": message}, request_id)
        body = (
            shaped.template.replace("$context.requestId", request_id)
            .replace("$context.error.messageString", json.dumps(message))
            .replace("$context.error.message", message)
        )
        out_status, headers, _ = self._json_response(shaped.status or status, {}, request_id)
        for name, value in shaped.headers.items():
            headers.set(name, value)
        return out_status, headers, body.encode()

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

        event = self.build_event(route, method, path, params, headers, query, raw, request_id, source_ip)
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
        return self._map_response(payload, request_id, method, path)

    def build_event(
        self,
        route: Route,
        method: str,
        path: str,
        params: dict[str, str],
        headers: Any,
        query: Any,
        raw: bytes,
        request_id: str,
        source_ip: str,
    ) -> dict[str, Any]:
        """The API Gateway REST Lambda proxy event."""
        header_pairs = self._header_pairs(headers)
        single_headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for k, v in header_pairs:
            single_headers[k] = v
            multi_headers.setdefault(k, []).append(v)
        host = next((v for k, v in header_pairs if k.lower() == "host"), "localhost")
        content_type = next((v for k, v in header_pairs if k.lower() == "content-type"), "")
        query_pairs = self._query_pairs(query)
        single_query: dict[str, str] = {}
        multi_query: dict[str, list[str]] = {}
        for k, v in query_pairs:
            single_query[k] = v
            multi_query.setdefault(k, []).append(v)
        is_b64 = bool(raw) and self._is_binary(content_type, route.binary_media_types, raw)
        if not raw:
            body_out: str | None = None
        elif is_b64:
            body_out = base64.b64encode(raw).decode("ascii")
        else:
            body_out = raw.decode("utf-8")
        now = time.time()
        user_agent = next((v for k, v in header_pairs if k.lower() == "user-agent"), None)
        return {
            "resource": route.resource_path,
            "path": path,
            "httpMethod": method,
            "headers": single_headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": single_query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": route.resource_id,
                "resourcePath": route.resource_path,
                "httpMethod": method,
                "extendedRequestId": request_id,
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "path": f"/{self.stage}{path}",
                "accountId": self.deployment.account,
                "protocol": "HTTP/1.1",
                "stage": self.stage,
                "domainPrefix": host.split(".", 1)[0],
                "requestTimeEpoch": int(now * 1000),
                "requestId": request_id,
                "identity": {
                    "sourceIp": source_ip,
                    "userAgent": user_agent,
                    "accountId": None,
                    "caller": None,
                    "user": None,
                    "userArn": None,
                    "apiKey": None,
                    "accessKey": None,
                    "cognitoIdentityId": None,
                },
                "domainName": host,
                "apiId": route.api_id,
            },
            "body": body_out,
            "isBase64Encoded": is_b64,
        }

    def _map_response(self, payload: bytes, request_id: str, method: str, path: str) -> tuple[int, HeaderDict, bytes]:
        try:
            doc = json.loads(payload)
            status = int(doc["statusCode"])
        except (ValueError, TypeError, KeyError):
            LOG.warning("%s %s: malformed Lambda proxy response %r", method, path, payload[:500])
            return self.gateway_answer(BAD_GATEWAY, request_id)
        out = HeaderDict()
        for k, v in (doc.get("headers") or {}).items():
            out.set(str(k), str(v))
        for k, values in (doc.get("multiValueHeaders") or {}).items():
            for existing in [e for e in out if e.lower() == str(k).lower()]:
                del out[existing]
                out.multi.pop(existing, None)
            for v in values or []:
                out.add(str(k), str(v))
        body = doc.get("body")
        if body is None:
            data = b""
        elif doc.get("isBase64Encoded"):
            data = base64.b64decode(body)
        else:
            data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
        if out.get_ci("Content-Type") is None:
            out.add("Content-Type", "application/json")
        out.add("x-amzn-RequestId", request_id)
        return status, out, data

    # ------------------------------------------------------------------ HTTP
    def serve(self, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
        """Serve the gateway over HTTP in a daemon thread (``server.shutdown()`` stops it)."""
        gateway = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _do(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    left = length if length <= MAX_DRAINED_BYTES else 0  # read and drop it: the client sees the 413
                    while left > 0 and (chunk := self.rfile.read(min(1 << 20, left))):
                        left -= len(chunk)
                    status, headers, body = gateway.gateway_answer(TOO_LARGE, str(uuid.uuid4()))
                    self.close_connection = True
                else:
                    raw = self.rfile.read(length) if length else b""
                    split = urlsplit(self.path)
                    status, headers, body = gateway.handle(
                        self.command,
                        split.path,
                        list(self.headers.items()),
                        split.query,
                        raw,
                        source_ip=self.client_address[0],
                    )
                self.send_response(status)
                for k, v in headers.items_all():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _do

            def log_message(self, format: str, *args: Any) -> None:
                LOG.debug("gateway: " + format, *args)

        server = _Server((host, port), _Handler)
        thread = threading.Thread(target=server.serve_forever, name="swapflow-gateway", daemon=True)
        thread.start()
        LOG.info("gateway listening on http://%s:%d", host, server.server_address[1])
        return server
