"""Provider callbacks (POST /webhooks/{provider}?job=<id>): the provider's signature is the credential.

Forged or stale -> 401/400 and no state change; duplicates and unknown jobs -> 200 (stops the
provider's retries) with no second change. A route only moves jobs of its own provider family, and
only by the provider job id the submit recorded: a callback that arrives before that id is known gets
409 (the provider retries; polling finds the result regardless) and changes nothing.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..observability import logger, metrics, tracer
from ..wiring import service

# Job.callback_refusal -> the answer: another provider's job is left alone (200 stops the retries); a job
# whose provider id is not recorded yet asks the provider to retry (409; polling finds the result anyway).
REFUSALS: dict[str, tuple[int, dict[str, Any]]] = {
    "foreign": (200, {"received": True}),
    "not_ready": (409, {"error": {"code": "not_ready", "message": "the job is not submitted yet; retry"}}),
}


def _respond(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from ..jobs.exceptions import JobNotFoundError
    from ..providers.exceptions import ProviderUnavailableError, WebhookRejectedError
    from ..providers.registry import webhook_verifier

    family = (event.get("pathParameters") or {}).get("provider", "")
    job_id = (event.get("queryStringParameters") or {}).get("job", "")
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    verifier = webhook_verifier(family)  # the provider that checks this route's signatures
    if verifier is None:
        return _respond(404, {"error": {"code": "not_found", "message": "unknown provider webhook"}})
    svc = service()
    try:
        job = svc.repo.get(job_id) if job_id else None
        refusal = job.callback_refusal(family) if job else None
        if refusal == "not_ready":  # nothing read or recorded, not even the delivery id: the retry counts
            logger.info("webhook before the provider job id is known", extra={"job_id": job_id})
            return _respond(*REFUSALS[refusal])
        # The route's own provider verifies the signature (forged -> 401), whoever's job it names.
        provider = svc.providers(job.provider if job and not refusal else verifier)
        notice = provider.parse_webhook(headers, body)
    except JobNotFoundError:
        logger.warning("webhook for an unknown job", extra={"job_id": job_id})
        return _respond(200, {"received": True})
    except WebhookRejectedError as exc:
        metrics.add_metric(name="WebhooksRejected", unit="Count", value=1)
        logger.warning("webhook rejected", extra={"reason": exc.reason})
        return _respond(exc.status, {"error": {"code": "webhook_rejected", "message": exc.reason}})
    except ProviderUnavailableError as exc:
        return _respond(404, {"error": {"code": "provider_unavailable", "message": str(exc)}})
    if notice.duplicate:
        metrics.add_metric(name="WebhooksDuplicate", unit="Count", value=1)
        logger.info("duplicate webhook delivery ignored", extra={"delivery_id": notice.delivery_id})
        return _respond(200, {"received": True, "duplicate": True})
    if refusal:
        logger.warning("webhook for another provider's job: no change", extra={"job_id": job_id, "route": family})
        return _respond(*REFUSALS[refusal])
    if job is None or job.provider_job_id != notice.provider_job_id:
        logger.warning("webhook does not match a job", extra={"job_id": job_id})
        return _respond(200, {"received": True})
    woken = svc.complete_from_provider(job.id, notice.result)
    logger.info("webhook accepted", extra={"job_id": job.id, "state": str(notice.result.state), "woken": woken})
    return _respond(200, {"received": True})
