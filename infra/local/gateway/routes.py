"""Routes of the template's REST API: resources, methods and their integrations.

Full paths come from the ``ParentId`` chains, with ``{param}`` and ``{proxy+}`` parts and ``ANY``;
``AWS_PROXY`` integrations name the function in their ``Uri``, ``MOCK`` integrations (CORS preflight)
answer with the first IntegrationResponse's headers and status.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.local.deployer import Deployment

LOG = logging.getLogger(__name__)


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


def build_routes(template: dict[str, Any], deployment: Deployment) -> list[Route]:
    """The routes of the template's REST API methods (full paths from the ParentId chains)."""
    routes: list[Route] = []
    resources = template.get("Resources", {}) or {}
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

    functions = deployment.functions
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
            api_id=deployment.physical.get(api_lid, api_lid),
            resource_path=path,
            method=str(props.get("HttpMethod", "ANY")).upper(),
            integration_type=itype,
            binary_media_types=tuple(api_props.get("BinaryMediaTypes") or ()),
            resource_id=deployment.physical.get(res_id, res_id),
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
        routes.append(route)
    return routes


def find_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The most specific route for ``method`` and ``path`` and its path parameters."""
    parts = [p for p in path.split("/") if p]
    best: tuple[tuple[int, int, int], Route, dict[str, str]] | None = None
    for route in routes:
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
