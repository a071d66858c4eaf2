"""What the native API's routes read from a request: the tenant (API key and request budget), headers,
the query string, the caller's key id. How they answer: api_answers.py. Shared by handlers/api*.py."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.openapi.params import Query

from ..jobs.access import Admission, api_key_from
from ..wiring import access

# `?cancel=true|false` of the DELETE routes (validated by the resolver, as api_models documents it).
CancelFlag = Annotated[Literal["true", "false"], Query()]

# This request's admission: every answer carries its RateLimit headers (set per invocation, see handler).
admission: ContextVar[Admission | None] = ContextVar("admission", default=None)


def tenant(router: BaseRouter) -> str:
    """The caller's tenant from its API key, within its per-second request budget."""
    admitted = access().admission(api_key_from(router.current_event.headers))
    admission.set(admitted)
    return admitted.tenant


def header(router: BaseRouter, name: str) -> str | None:
    return next((v for k, v in (router.current_event.headers or {}).items() if k.lower() == name.lower()), None)


def query(router: BaseRouter) -> dict[str, str]:
    return dict(router.current_event.query_string_parameters or {})


def key_id(router: BaseRouter) -> str | None:
    from ..storage.tenants import caller_key_id

    return caller_key_id(router.current_event.headers)
