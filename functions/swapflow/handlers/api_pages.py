"""The API's documents and pages: /v1/openapi.json, the playground and Swagger UI (no key: their API
calls carry the key the user pastes), from vendored assets."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from .. import api_answers as ans
from .. import playground
from ..http_errors import error_body

router = Router()


@router.get("/v1/openapi.json")
def openapi() -> ans.Answer:
    """The OpenAPI 3.1 document of the native API; no key needed. `servers` carries the stage prefix, so
    Swagger UI's "Try it out" reaches `/prod/v1/...` in AWS."""
    from ..api_spec import openapi_document

    return ans.json_response(200, {**openapi_document(), "servers": [{"url": ans.stage(router) or "/"}]})


# route -> page (`<base href>` carries the stage prefix); asset route prefix -> the vendored files it serves
PAGES = {"/": "index.html", "/playground": "index.html", "/v1/docs": "docs.html", "/docs": "docs.html"}
ASSETS = {"/playground/": playground.PLAYGROUND_ASSETS, "/v1/docs/": playground.DOCS_ASSETS}


def _file(found: tuple[str, str] | None) -> Response:
    if found is None:
        return ans.json_response(404, error_body("not_found", "no such file"))
    text, content_type = found
    return Response(200, content_type, text, {"Cache-Control": "public, max-age=300"})


@router.get("/")
@router.get("/playground")
@router.get("/v1/docs")
@router.get("/docs")
def page() -> ans.Answer:
    """The playground, or Swagger UI over /v1/openapi.json; both from vendored assets, no key needed."""
    name = PAGES.get(router.current_event.path.rstrip("/") or "/", "index.html")
    return _file(playground.page(name, ans.stage(router)))


@router.get("/playground/<name>")
@router.get("/v1/docs/<name>")
def asset(name: str) -> ans.Answer:
    files = next(table for prefix, table in ASSETS.items() if router.current_event.path.startswith(prefix))
    return _file(playground.asset(files, name))
