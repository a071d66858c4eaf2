"""Workflow steps Finish and RecordFailure: archive outputs, end the job, emit its one event."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..observability import logger, metrics
from ..wiring import service


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job_id = event["job_id"]
    logger.append_keys(job_id=job_id)
    svc = service()
    job = svc.fail_from_step(job_id, event) if event.get("mode") == "fail" else svc.finish(job_id)
    metrics.add_metric(name=f"Jobs{str(job.status).capitalize()}", unit="Count", value=1)
    return {"job_id": job_id, "status": str(job.status)}
