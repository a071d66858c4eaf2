"""The API's documents and pages: /v1/openapi.json, the playground and Swagger UI (no key: their API
calls carry the key the user pastes), from vendored assets."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from . import api_request as req
from .errors import error_body

router = Router()


@router.get("/v1/openapi.json")
def openapi() -> req.Answer:
    """The OpenAPI 3.1 document of the native API; no key needed. `servers` carries the stage prefix, so
    Swagger UI's "Try it out" reaches `/prod/v1/...` in AWS."""
    from ..api_spec import openapi_document

    return req.json_response(200, {**openapi_document(), "servers": [{"url": req.stage(router) or "/"}]})


def _static(found: tuple[str, str] | None) -> Response:
    if found is None:
        return req.json_response(404, error_body("not_found", "no such file"))
    text, content_type = found
    return Response(200, content_type, text, {"Cache-Control": "public, max-age=300"})


@router.get("/")
@router.get("/playground")
def playground_page() -> req.Answer:
    from .. import playground

    return _static(playground.page("index.html", req.stage(router)))


@router.get("/playground/<name>")
def playground_asset(name: str) -> req.Answer:
    from .. import playground

    return _static(playground.asset(playground.PLAYGROUND_ASSETS, name))


@router.get("/v1/docs")
@router.get("/docs")
def docs_page() -> req.Answer:
    """Swagger UI over /v1/openapi.json, from vendored assets; no key needed."""
    from .. import playground

    return _static(playground.page("docs.html", req.stage(router)))


@router.get("/v1/docs/<name>")
def docs_asset(name: str) -> req.Answer:
    from .. import playground

    return _static(playground.asset(playground.DOCS_ASSETS, name))
