"""EventBridge rule target for `Swap Requested` (jobs/ingest.py): start the job, or reject the event."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..jobs.ingest import SwapRequestIngest
from ..observability import logger, metrics, provider_metric, tracer
from ..wiring import ingest


def handle(event: dict[str, Any], svc: SwapRequestIngest) -> dict[str, Any]:
    """One event through `svc`; the seam tests call with their own ingest."""
    from ..jobs.exceptions import SwapRequestRejectedError

    logger.append_keys(event_id=event.get("id"), source=event.get("source"))
    try:
        job, created = svc.accept(event)
    except SwapRequestRejectedError as exc:
        metrics.add_metric(name="SwapRequestsRejected", unit="Count", value=1)
        logger.warning("swap request rejected", extra={"errors": exc.errors})
        svc.reject(event, exc)
        return {"rejected": True, "errors": exc.errors}
    metrics.add_metric(name="SwapRequestsAccepted" if created else "SwapRequestsDuplicate", unit="Count", value=1)
    if job and created:
        provider_metric("JobsAccepted", job.provider)
    # not `created`: LogRecord has an attribute of that name and logging refuses to overwrite it
    logger.info("swap request", extra={"job_id": job.id if job else None, "new_job": created})
    return {"job_id": job.id if job else None, "created": created}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, ingest())
