"""Batch runner step RunJob (.waitForTaskToken): create and start one job of a batch.

The runner's concurrency slot stays taken until the job ends: the batch tracker then sends the token.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..observability import logger, tracer
from ..wiring import batches, jsonl_manifests


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> None:
    """`job_id` from the batch runner; `index` (a JSONL manifest's line) from the manifest runner."""
    if "index" in event:
        logger.append_keys(batch_id=event["batch_id"], index=event["index"])
        jsonl_manifests().run_item(event["batch_id"], int(event["index"]), event["token"])
        return
    logger.append_keys(batch_id=event["batch_id"], job_id=event["job_id"])
    batches().run_item(event["batch_id"], event["job_id"], event["token"])
