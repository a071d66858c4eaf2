"""Delivery state machine step Deliver: one signed POST of a job's terminal event to the client's webhook.

Input `{event: <the EventBridge event>, attempt: <0-based>, execution: <execution ARN>}`; the answer is
the state machine's `$.delivery` (outcome, next attempt, wait seconds, last error).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..observability import logger, metrics, tracer
from ..webhooks import TerminalEvent
from ..wiring import client_webhooks


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    received = event["event"]
    terminal = TerminalEvent(received["id"], received["detail-type"], received["detail"])
    logger.append_keys(job_id=terminal.job_id, attempt=event["attempt"])
    result = client_webhooks().attempt(terminal, int(event["attempt"]), owner=event["execution"])
    metrics.add_metric(name=f"ClientWebhook{str(result.outcome).title().replace('_', '')}", unit="Count", value=1)
    logger.info("client webhook attempt", extra=result.to_dict())
    return result.to_dict()
