"""The offline engine's own Lambda: swap, stage the output, complete the job like a webhook would."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..observability import logger, tracer
from ..settings import get_settings
from ..wiring import service


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from ..providers.base import ProviderFailure, ProviderResult, ProviderState
    from ..providers.engine import run_engine

    job_id = event["job_id"]
    logger.append_keys(job_id=job_id)
    svc = service()
    settings = get_settings()
    if settings.engine_delay_seconds > 0:  # test only: a window to cancel a running job
        time.sleep(settings.engine_delay_seconds)
    job = svc.repo.get(job_id)
    if job.terminal:
        return {"job_id": job_id, "skipped": True}

    def write(key: str, data: bytes, content_type: str) -> tuple[str, str]:
        svc.blobs.put(settings.archive_bucket, key, data, content_type)
        return settings.archive_bucket, key

    try:  # written where finishing archives it (JobService.archive_key): one PUT, no staging copy
        result = run_engine(job.spec, svc.blobs.get, write, svc.archive_key(job, 0))
    except Exception:  # an engine crash must still end the job, not leave it to the deadline
        logger.exception("engine crashed")
        result = ProviderResult(
            ProviderState.FAILED, failure=ProviderFailure("internal", "the engine failed unexpectedly")
        )
    # With the callback off (tests of the poll path) the result is only recorded; the poll finds it.
    woken = svc.complete_from_provider(job_id, result, notify=settings.engine_callback)
    logger.info("engine finished", extra={"state": str(result.state), "woken": woken})
    return {"job_id": job_id, "state": str(result.state), "woken": woken}
