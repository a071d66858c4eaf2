"""Workflow step SubmitToProvider: hand the job to its provider (ProviderBusyError is retried)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..observability import logger, tracer
from ..wiring import service


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(job_id=event["job_id"])
    return service().submit_to_provider(event["job_id"]).to_dict()
