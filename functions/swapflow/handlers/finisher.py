"""Workflow steps Finish and RecordFailure: archive outputs, end the job, emit its one event."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..observability import logger, metrics, provider_metric, tracer
from ..wiring import service


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job_id = event["job_id"]
    logger.append_keys(job_id=job_id)
    lifecycle = service().lifecycle
    job = lifecycle.fail_from_step(job_id, event) if event.get("mode") == "fail" else lifecycle.finish(job_id)
    provider_metric(f"Jobs{str(job.status).capitalize()}", job.provider)
    total_ms = job.timings()["total_ms"]
    if total_ms is not None:  # submit to terminal state: the dashboard's p50/p95 job time
        provider_metric("JobTime", job.provider, float(total_ms), MetricUnit.Milliseconds)
    return {"job_id": job_id, "status": str(job.status)}
