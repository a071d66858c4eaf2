"""Workflow step Run (.waitForTaskToken): one pass of a job, from a provider slot to its end.

An error of the pass fails the task by its class name (SendTaskFailure), the same way in AWS and on
the local stack, so the state machine's Retry (ProviderSlotBusyError, ProviderBusyError) and Catch
decide what comes next.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..observability import logger, tracer
from ..wiring import service

QUIET_ERRORS = {"ProviderSlotBusyError", "ProviderBusyError"}  # waiting, not failing


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> None:
    logger.append_keys(job_id=event["job_id"])
    lifecycle = service().lifecycle
    try:
        lifecycle.run_step(event["job_id"], event["token"])
    except Exception as exc:
        name = type(exc).__name__
        if name not in QUIET_ERRORS:
            logger.exception("run pass failed")
        lifecycle.pass_failed(event["token"], exc)
