"""The HTTPS API (API Gateway REST proxy): native /v1 routes, in handlers/api_jobs.py (jobs),
handlers/api_batches.py (batches, uploads) and handlers/api_pages.py (OpenAPI, playground, docs)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext

from .. import api_answers as ans
from ..api_answers import answer_failures
from ..http_errors import ANSWERS, describe, error_body, error_headers, ratelimit_headers, resolver_refusal
from ..jobs.exceptions import RequestInvalidError, TenantThrottledError, UnauthorizedError
from ..jobs.validation import parse_json_body
from ..observability import logger, metrics, tracer
from . import api_batches, api_jobs, api_pages
from . import api_request as req

# Bodies and query strings are validated against api_models by the resolver; bodies are decoded by our own
# parser (depth and surrogate caps), and a refusal is answered in our envelope (request_refused below).
app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=parse_json_body)
for _routes in (api_jobs, api_batches, api_pages):
    app.include_router(_routes.router)


@app.exception_handler(list(ANSWERS))
def domain_error(exc: Exception) -> Response:
    if isinstance(exc, RequestInvalidError) and req.admission.get() is None:
        # refused before the route ran: the key and budget checks answer first (401, 429), as they did
        try:
            req.tenant(app)
        except (UnauthorizedError, TenantThrottledError) as refused:
            return domain_error(refused)
    status, body = describe(exc)
    return ans.json_response(status, body, error_headers(exc))


@app.exception_handler([RequestValidationError, UnicodeDecodeError, RequestUnsupportedContentType])
def request_refused(exc: Exception) -> Response:
    """The models' refusal (or an undecodable or non-JSON body) in our envelope."""
    return domain_error(resolver_refusal(exc))


answer_failures(
    app,
    lambda status, message: error_body("internal" if status == 500 else "not_found", message),
    "no such route; see GET /v1/openapi.json",
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    req.admission.set(None)
    response = app.resolve(event, context)
    admission = req.admission.get()
    if admission is not None and admission.limit:
        headers = ratelimit_headers(admission.limit, admission.remaining, admission.reset_seconds)
        response["multiValueHeaders"] = {**response["multiValueHeaders"], **{k: [v] for k, v in headers.items()}}
    return response
