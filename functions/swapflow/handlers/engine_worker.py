"""The offline engine's own Lambda: swap, stage the output, complete the job (jobs/callbacks.py)."""

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
    logger.append_keys(job_id=event["job_id"])
    settings = get_settings()
    if settings.engine_delay_seconds > 0:  # test only: a window to cancel a running job
        time.sleep(settings.engine_delay_seconds)
    # With the callback off (tests of the poll path) the result is only recorded; the poll finds it.
    outcome = service().callbacks.run_engine(event["job_id"], notify=settings.engine_callback)
    logger.info("engine finished", extra=outcome)
    return outcome
