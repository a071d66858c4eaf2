"""The native API's /v1/jobs routes: submit (with `wait`), list, get, cancel, delete."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from .. import api_answers as ans
from ..api_models import JobRequestBody
from ..jobs.models import JobStatus
from ..jobs.queries import MAX_LIST_LIMIT
from ..observability import logger, provider_metric
from ..wiring import service
from . import api_request as req

router = Router()


@router.post("/v1/jobs")
def create_job(payload: Annotated[JobRequestBody, Body()]) -> ans.Answer:
    """202 {id, status, metadata, urls}; 200 with the whole job when a `wait` ends in time."""
    tenant = req.tenant(router)
    submitted = service().intake.submit(
        tenant,
        payload.model_dump(exclude_unset=True),
        prefer=req.header(router, "Prefer"),
        cancel_after=req.header(router, "Cancel-After"),
        idempotency_key=req.header(router, "Idempotency-Key"),
        submitted_by=req.key_id(router),
    )
    job, replayed = submitted.job, submitted.replayed
    if not replayed:
        provider_metric("JobsAccepted", job.provider)
    facts = {"job_id": job.id, "provider": job.provider, "tenant": tenant, "replay": replayed}
    logger.info("job accepted", extra=facts)
    headers = ans.submit_headers(router, submitted)
    if submitted.wait:
        job = service().queries.wait_for_job(tenant, job.id, submitted.wait)
        if job.terminal:
            return ans.json_response(200, ans.job_body(job), headers)
    return ans.json_response(202, ans.accepted_body(job), headers)


@router.get("/v1/jobs")
def list_jobs(
    status: Annotated[JobStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = 20,
    cursor: Annotated[str | None, Query()] = None,
) -> ans.Answer:
    """The caller's jobs, newest first: ?status=&limit= (1..100, default 20)&cursor=."""
    tenant = req.tenant(router)
    jobs, after = service().queries.list_jobs(tenant, status=status, limit=limit, cursor=cursor or None)
    return ans.json_response(200, {"jobs": [ans.job_body(j, with_base64=False) for j in jobs], "next_cursor": after})


@router.get("/v1/jobs/<job_id>")
def get_job(job_id: str) -> ans.Answer:
    return ans.json_response(200, ans.job_body(service().queries.get_job(req.tenant(router), job_id)))


@router.post("/v1/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> ans.Answer:
    """200 with the job, now `cancelled`; 409 `conflict` when it had already ended."""
    tenant = req.tenant(router)
    job = service().lifecycle.cancel_job(tenant, job_id)
    logger.info("job cancelled", extra={"job_id": job.id, "tenant": tenant})
    provider_metric("JobsCancelled", job.provider)
    return ans.json_response(200, ans.job_body(job), ans.location(router, job.id))


@router.delete("/v1/jobs/<job_id>")
def delete_job(job_id: str, cancel: req.CancelFlag = "false") -> ans.Answer:
    """202 with the tombstone: photos are being deleted (every version); 409 while running unless ?cancel=true."""
    tenant = req.tenant(router)
    job = service().lifecycle.delete_job(tenant, job_id, cancel=cancel == "true", by=req.key_id(router))
    logger.info("job deleted", extra={"job_id": job.id, "tenant": tenant})
    return ans.json_response(202, service().queries.view(job))
