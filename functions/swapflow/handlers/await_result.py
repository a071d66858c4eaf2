"""Workflow step AwaitResult (.waitForTaskToken): park the token where the completion path finds it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..observability import logger, tracer
from ..wiring import service


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> None:
    logger.append_keys(job_id=event["job_id"])
    service().await_result(event["job_id"], event["token"], event["poll"])
