"""Client webhooks: one signed POST of a job's terminal event to the client's webhook.

Two callers, one handler:
- the EventBridge rule, with the event itself: attempt 0 at once (`first_attempt`); a retry or a dead
  letter starts the delivery state machine;
- that state machine's Deliver step, with `{event, attempt: <0-based>, execution: <owner>}`: the answer
  is its `$.delivery` (outcome, next attempt, wait seconds, last error).
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
    direct = "detail-type" in event  # the EventBridge event, not the state machine's input
    received = event if direct else event["event"]
    terminal = TerminalEvent(received["id"], received["detail-type"], received["detail"])
    attempt = 0 if direct else int(event["attempt"])
    logger.append_keys(job_id=terminal.job_id, attempt=attempt)
    webhooks = client_webhooks()
    if direct:
        result = webhooks.first_attempt(terminal, owner=context.aws_request_id)
    else:
        result = webhooks.attempt(terminal, attempt, owner=event["execution"])
    metrics.add_metric(name=f"ClientWebhook{str(result.outcome).title().replace('_', '')}", unit="Count", value=1)
    logger.info("client webhook attempt", extra=result.to_dict())
    return result.to_dict()
