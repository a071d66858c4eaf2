"""The Lambda proxy contract of API Gateway REST (v1): the event a function gets, the answer it gives back."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from .routes import Route

LOG = logging.getLogger(__name__)

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


def _mapping_pairs(mapping: Mapping[Any, Any]) -> list[tuple[str, str]]:
    """``(name, value)`` pairs of a mapping whose values may be lists (one pair per value)."""
    pairs: list[tuple[str, str]] = []
    for k, v in mapping.items():
        if isinstance(v, (list, tuple)):
            pairs.extend((str(k), str(x)) for x in v)
        else:
            pairs.append((str(k), str(v)))
    return pairs


def header_pairs(headers: Any) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return _mapping_pairs(headers)
    if hasattr(headers, "items") and callable(headers.items):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


def query_pairs(query: Any) -> list[tuple[str, str]]:
    if not query:
        return []
    if isinstance(query, (str, bytes)):
        text = query.decode() if isinstance(query, bytes) else query
        return parse_qsl(text.lstrip("?"), keep_blank_values=True)
    if isinstance(query, Mapping):
        return _mapping_pairs(query)
    return [(str(k), str(v)) for k, v in query]


def is_binary(content_type: str, binary_media_types: tuple[str, ...], raw: bytes) -> bool:
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


def _single_and_multi(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The event's two views of repeated names: the last value of each, and all of them."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for k, v in pairs:
        single[k] = v
        multi.setdefault(k, []).append(v)
    return single, multi


def build_event(
    route: Route,
    method: str,
    path: str,
    params: dict[str, str],
    headers: Any,
    query: Any,
    raw: bytes,
    request_id: str,
    source_ip: str,
    *,
    stage: str,
    account: str,
) -> dict[str, Any]:
    """The API Gateway REST Lambda proxy event."""
    header_list = header_pairs(headers)
    single_headers, multi_headers = _single_and_multi(header_list)
    host = next((v for k, v in header_list if k.lower() == "host"), "localhost")
    content_type = next((v for k, v in header_list if k.lower() == "content-type"), "")
    single_query, multi_query = _single_and_multi(query_pairs(query))
    is_b64 = bool(raw) and is_binary(content_type, route.binary_media_types, raw)
    if not raw:
        body_out: str | None = None
    elif is_b64:
        body_out = base64.b64encode(raw).decode("ascii")
    else:
        body_out = raw.decode("utf-8")
    now = time.time()
    user_agent = next((v for k, v in header_list if k.lower() == "user-agent"), None)
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
            "path": f"/{stage}{path}",
            "accountId": account,
            "protocol": "HTTP/1.1",
            "stage": stage,
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


def map_response(payload: bytes, request_id: str, method: str, path: str) -> tuple[int, HeaderDict, bytes] | None:
    """The HTTP answer of a Lambda proxy response; None when it is malformed (API Gateway: 502)."""
    try:
        doc = json.loads(payload)
        status = int(doc["statusCode"])
    except (ValueError, TypeError, KeyError):
        LOG.warning("%s %s: malformed Lambda proxy response %r", method, path, payload[:500])
        return None
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
