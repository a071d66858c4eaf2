"""The native API's /v1/batches and /v1/uploads routes."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from .. import api_answers as ans
from ..api_models import UploadRequest
from ..jobs.batches import MAX_PAGE, PAGE_SIZE
from ..jobs.validation import parse_json_body
from ..observability import logger, metrics
from ..wiring import batches, jsonl_manifests, uploads
from . import api_request as req

router = Router()


@router.post("/v1/uploads")
def create_upload(body: Annotated[UploadRequest, Body()]) -> ans.Answer:
    """A presigned PUT into the input bucket; the returned `image_ref` is then a job input."""
    tenant = req.tenant(router)
    upload = uploads().create(tenant, body.filename, body.content_type, body.size)
    return ans.json_response(201, upload.native_view())


@router.post("/v1/batches")
def create_batch() -> ans.Answer:
    """202 {id, status, counts, urls}: every job request judged at once (400 lists each problem); or
    `{"manifest": <s3:// or key of a .jsonl upload>}`: up to 100,000 jobs, registered by the runner."""
    tenant, body = req.tenant(router), parse_json_body(router.current_event.body)
    if isinstance(body, dict) and set(body) == {"manifest"}:
        manifests = jsonl_manifests()
        batch, _ = manifests.accept(tenant, manifests.location_for(tenant, body["manifest"]))
    else:
        batch, _ = batches().accept(tenant, body)
    metrics.add_metric(name="BatchJobsAccepted", unit="Count", value=batch.total)
    logger.info("batch accepted", extra={"batch_id": batch.id, "jobs": batch.total, "tenant": tenant})
    view = batches().view(batch, with_jobs=False)
    return ans.json_response(202, view, {"Location": view["urls"]["get"]})


@router.get("/v1/batches/<batch_id>")
def get_batch(
    batch_id: str,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = PAGE_SIZE,
    next_token: Annotated[str | None, Query()] = None,
) -> ans.Answer:
    """The batch with its counts and a page of its jobs {index, id, status, outputs, error}:
    ?limit= (1..1000, default 100)&next_token=."""
    svc = batches()
    batch = svc.get(req.tenant(router), batch_id)
    return ans.json_response(200, svc.view(batch, limit=limit, next_token=next_token or None))


@router.post("/v1/batches/<batch_id>/cancel")
def cancel_batch(batch_id: str) -> ans.Answer:
    """202 with the batch: every job not yet ended is being cancelled; 409 `batch_ended` for a batch that
    had ended without a cancel; a batch cancelled before answers 202 again, changing nothing."""
    tenant = req.tenant(router)
    svc = batches()
    batch = svc.cancel(tenant, batch_id)
    logger.info("batch cancelled", extra={"batch_id": batch.id, "tenant": tenant})
    return ans.json_response(202, svc.view(batch, with_jobs=False))


@router.delete("/v1/batches/<batch_id>")
def delete_batch(batch_id: str, cancel: req.CancelFlag = "false") -> ans.Answer:
    """202: every job of the batch (or manifest) is being deleted as DELETE /v1/jobs/{id} does."""
    tenant = req.tenant(router)
    batch = batches().delete(tenant, batch_id, cancel=cancel == "true", by=req.key_id(router))
    logger.info("batch deleted", extra={"batch_id": batch.id, "tenant": tenant})
    return ans.json_response(202, batches().view(batch, with_jobs=False))
