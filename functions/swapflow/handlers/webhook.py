"""Provider callbacks (POST /webhooks/{provider}?job=<id>): verified and matched in jobs/callbacks.py."""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..observability import logger, metrics, tracer
from ..wiring import service

# outcome -> (log level, message, metric); outcomes not listed log at info without a metric.
LOGGED = {
    "rejected": ("warning", "webhook rejected", "WebhooksRejected"),
    "duplicate": ("info", "duplicate webhook delivery ignored", "WebhooksDuplicate"),
    "unknown_job": ("warning", "webhook for an unknown job", None),
    "not_ready": ("info", "webhook before the provider job id is known", None),
    "foreign": ("warning", "webhook for another provider's job: no change", None),
    "unmatched": ("warning", "webhook does not match a job", None),
    "accepted": ("info", "webhook accepted", None),
}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    family = (event.get("pathParameters") or {}).get("provider", "")
    job_id = (event.get("queryStringParameters") or {}).get("job", "")
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    answer = service().callbacks.webhook(family, job_id, headers, body)
    level, message, metric = LOGGED.get(answer.outcome, ("info", f"webhook {answer.outcome}", None))
    if metric:
        metrics.add_metric(name=metric, unit="Count", value=1)
    getattr(logger, level)(message, extra=answer.facts)
    return {
        "statusCode": answer.status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(answer.body),
    }
