"""S3 ObjectCreated under inbox/*.json(l) in the input bucket: each manifest becomes a batch (jobs/manifests.py,
jobs/jsonl.py for JSON Lines).

S3 URL-encodes keys in its events (`quote_plus`: spaces arrive as `+`), so they are decoded here.
"""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.typing import LambdaContext

from ..observability import logger, metrics, tracer
from ..wiring import batches, jsonl_manifests


def _event_time(record: dict[str, Any]) -> float:
    raw = str(record.get("eventTime") or "").replace("Z", "+00:00")
    try:
        return datetime.datetime.fromisoformat(raw).timestamp()
    except ValueError:
        return 0.0


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from ..jobs.manifests import ManifestLocation, is_jsonl_manifest, is_manifest
    from ..jobs.models import Batch

    accepted: list[str | None] = []
    for record in event.get("Records") or []:
        s3 = record.get("s3") or {}
        obj = s3.get("object") or {}
        key = unquote_plus(str(obj.get("key", "")))
        jsonl = is_jsonl_manifest(key)
        if not jsonl and not is_manifest(key):
            logger.info("not a manifest, ignored", extra={"key": key})
            continue
        etag = str(obj.get("eTag") or "").strip('"') or None
        location = ManifestLocation(s3["bucket"]["name"], key, obj.get("versionId"), etag)
        batch: Batch | None
        if jsonl:  # the batch id derives from the object version: a re-delivered event starts nothing new
            tenant = batches().settings.trigger_tenant
            batch, _ = jsonl_manifests().accept(tenant, location, batch_id=location.batch_id(_event_time(record)))
        else:
            batch = batches().accept_manifest(location, at=_event_time(record))
        metrics.add_metric(name="ManifestsAccepted" if batch else "ManifestsRefused", unit="Count", value=1)
        accepted.append(batch.id if batch else None)
    return {"batches": accepted}
