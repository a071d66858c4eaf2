"""The eraser: deletes a job's photos on request (from DELETE /v1/jobs/{id}) and on schedule (retention).

It is the only function with s3:DeleteObject / s3:DeleteObjectVersion on the buckets.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..observability import logger, metrics
from ..wiring import eraser


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("job_id"):
        logger.append_keys(job_id=event["job_id"])
        job = eraser().delete(str(event["job_id"]))
        metrics.add_metric(name="JobsDeleted", unit="Count", value=1 if job and job.deleted_at else 0)
        return {"job_id": event["job_id"], "deleted": bool(job and job.deleted_at)}
    if event.get("batch_id"):
        from ..wiring import batches

        logger.append_keys(batch_id=event["batch_id"])
        jobs = batches().purge(event["tenant"], event["batch_id"], eraser(), by=event.get("by"))
        metrics.add_metric(name="JobsDeleted", unit="Count", value=jobs)
        return {"batch_id": event["batch_id"], "jobs": jobs}
    # The hourly EventBridge schedule, or `swapflow retention sweep` ({"sweep": true}).
    counts = eraser().sweep()
    logger.info("retention sweep", extra=counts)
    metrics.add_metric(name="RetentionJobsErased", unit="Count", value=counts["jobs"])
    return counts
