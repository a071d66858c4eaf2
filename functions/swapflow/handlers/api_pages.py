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


def _serve(name: str, assets: dict[str, str] | None = None) -> Response:
    """A page (links carry the stage prefix) or, with `assets`, a file of that vendored set; 404 if none."""
    found = playground.asset(assets, name) if assets is not None else playground.page(name, ans.stage(router))
    if found is None:
        return ans.json_response(404, error_body("not_found", "no such file"))
    text, content_type = found
    return Response(200, content_type, text, {"Cache-Control": "public, max-age=300"})


@router.get("/")
@router.get("/playground")
def playground_page() -> ans.Answer:
    return _serve("index.html")


@router.get("/playground/<name>")
def playground_asset(name: str) -> ans.Answer:
    return _serve(name, playground.PLAYGROUND_ASSETS)


@router.get("/v1/docs")
@router.get("/docs")
def docs_page() -> ans.Answer:
    """Swagger UI over /v1/openapi.json, from vendored assets; no key needed."""
    return _serve("docs.html")


@router.get("/v1/docs/<name>")
def docs_asset(name: str) -> ans.Answer:
    return _serve(name, playground.DOCS_ASSETS)
