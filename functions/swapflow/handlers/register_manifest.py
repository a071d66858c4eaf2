"""Manifest runner step Register: the next part of a JSONL manifest's jobs, as batch members.

Input and output are the runner's place `{batch_id, manifest, offset, index, providers, done,
max_concurrency}` (jobs/jsonl.py `Place`); the runner passes again until `done`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..observability import logger
from ..wiring import jsonl_manifests


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from ..jobs.jsonl import Place

    logger.append_keys(batch_id=event["batch_id"])
    place = Place(int(event["offset"]), int(event["index"]), tuple(event.get("providers") or ()))
    moved = jsonl_manifests().register(event["batch_id"], place)
    logger.info("manifest part registered", extra={"offset": moved.offset, "jobs": moved.index, "done": moved.done})
    return moved.to_dict(event["batch_id"], event["manifest"])
