"""A job as a DynamoDB item and back (the job repository's codec, kept apart from its transitions).

Structured fields are stored as JSON strings so the item never needs Decimal juggling.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

from ..faces import Face
from ..jobs.models import Job, JobError, JobStatus, Output, StoredImage, SwapSpec
from .table import num


def job_key(job_id: str) -> dict[str, str]:
    return {"pk": f"JOB#{job_id}", "sk": "JOB"}


def _spec_from(data: dict[str, Any]) -> SwapSpec:
    faces = tuple(Face(StoredImage(**f["source_image"]), f["target_face"]) for f in data.pop("faces", []))
    return SwapSpec(
        source_image=StoredImage(**data.pop("source_image")),
        target_image=StoredImage(**data.pop("target_image")),
        faces=faces,
        **data,
    )


def stored_metadata(raw: str | None) -> dict[str, Any]:
    """A job's metadata as stored. A record written before the depth cap that cannot be read back within
    it is shown as a marker, so it can never break the job's event, its view or the tenant's list."""
    from ..jobs.validation import MAX_METADATA_DEPTH, json_depth

    try:
        value = json.loads(raw or "{}")
    except (RecursionError, ValueError):
        value = None
    if isinstance(value, dict) and json_depth(value) <= MAX_METADATA_DEPTH:
        return value
    logging.getLogger(__name__).error("stored metadata unreadable or over the depth cap: replaced by a marker")
    return {"unavailable": f"metadata could not be read within {MAX_METADATA_DEPTH} levels"}


def expiry_update(expires: tuple[float, float | None] | None, ttl_days: int) -> tuple[str, str, dict[str, Any]]:
    """(SET part, REMOVE part, values) for a terminal job's retention dates. The record must outlive what it
    points to: its ttl moves past the outputs' expiry (by the usual ttl days), and a job whose outputs are
    kept keeps its record (so it can still be found and deleted by id)."""
    if expires is None:
        return "", "", {}
    inputs_at, outputs_at = expires
    values: dict[str, Any] = {":ie": num(inputs_at)}
    if outputs_at is None:
        return ", inputs_expire_at = :ie", ", #ttl", values
    values.update({":oe": num(outputs_at), ":ttl": int(outputs_at) + ttl_days * 86400})
    return ", inputs_expire_at = :ie, outputs_expire_at = :oe, #ttl = :ttl", "", values


def new_item(job: Job, ttl_days: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        **job_key(job.id),
        "id": job.id,
        "tenant": job.tenant,
        "provider": job.provider,
        "status": str(job.status),
        "spec": json.dumps(asdict(job.spec)),
        "metadata": json.dumps(job.metadata),
        "created_at": num(job.created_at),
        "updated_at": num(job.updated_at),
        "gsi1pk": f"TENANT#{job.tenant}",
        "gsi1sk": f"{job.id}",
        "ttl": int(job.created_at) + ttl_days * 86400,
    }
    for name in ("webhook_url", "idempotency_key", "correlation_id", "batch_id", "submitted_by"):
        if getattr(job, name):
            item[name] = getattr(job, name)
    return item


def to_job(item: dict[str, Any]) -> Job:
    def opt_float(name: str) -> float | None:
        return float(item[name]) if name in item else None

    error = json.loads(item["error"]) if item.get("error") else None
    return Job(
        id=item["id"],
        tenant=item["tenant"],
        provider=item["provider"],
        spec=_spec_from(json.loads(item["spec"])),
        status=JobStatus(item["status"]),
        provider_job_id=item.get("provider_job_id"),
        outputs=[Output(**o) for o in json.loads(item.get("outputs") or "[]")],
        error=JobError(**error) if error else None,
        metadata=stored_metadata(item.get("metadata")),
        webhook_url=item.get("webhook_url"),
        idempotency_key=item.get("idempotency_key"),
        correlation_id=item.get("correlation_id"),
        batch_id=item.get("batch_id"),
        created_at=float(item["created_at"]),
        updated_at=float(item["updated_at"]),
        submitted_at=opt_float("submitted_at"),
        finished_at=opt_float("finished_at"),
        submitted_by=item.get("submitted_by"),
        inputs_expire_at=opt_float("inputs_expire_at"),
        outputs_expire_at=opt_float("outputs_expire_at"),
        inputs_erased_at=opt_float("inputs_erased_at"),
        outputs_erased_at=opt_float("outputs_erased_at"),
        deleted_at=opt_float("deleted_at"),
        staged=bool(item.get("staged", True)),
    )
