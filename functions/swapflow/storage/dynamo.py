"""The DynamoDB job repository: one table, conditional writes guard every state transition.

Items: job `JOB#<id>`, API key `KEY#<sha256>`, webhook delivery `SEEN#<provider>#<delivery id>`.
Structured fields are stored as JSON strings so the item never needs Decimal juggling.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from ..faces import Face
from ..jobs.exceptions import JobNotFoundError
from ..jobs.models import Job, JobError, JobStatus, Output, StoredImage, SwapSpec

_OPEN = [str(JobStatus.QUEUED), str(JobStatus.PROCESSING)]
EVENT_CLAIM_STALE_SECONDS = 30


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _num(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))


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


def _expiry_update(expires: tuple[float, float | None] | None, ttl_days: int) -> tuple[str, str, dict[str, Any]]:
    """(SET part, REMOVE part, values) for a terminal job's retention dates. The record must outlive what it
    points to: its ttl moves past the outputs' expiry (by the usual ttl days), and a job whose outputs are
    kept keeps its record (so it can still be found and deleted by id)."""
    if expires is None:
        return "", "", {}
    inputs_at, outputs_at = expires
    values: dict[str, Any] = {":ie": _num(inputs_at)}
    if outputs_at is None:
        return ", inputs_expire_at = :ie", ", #ttl", values
    values.update({":oe": _num(outputs_at), ":ttl": int(outputs_at) + ttl_days * 86400})
    return ", inputs_expire_at = :ie, outputs_expire_at = :oe, #ttl = :ttl", "", values


def query_page(table: Any, query: dict[str, Any], limit: int) -> tuple[list[dict[str, Any]], bool]:
    """Up to `limit` items of a Query (read on while a filter leaves a page short), and whether more follow."""
    items: list[dict[str, Any]] = []
    while len(items) <= limit:
        page = table.query(**query)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return items[:limit], len(items) > limit


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class DynamoJobRepository:
    def __init__(self, table: Any, *, ttl_days: int = 30) -> None:
        self.table = table
        self.ttl_days = ttl_days

    @staticmethod
    def _key(job_id: str) -> dict[str, str]:
        return {"pk": f"JOB#{job_id}", "sk": "JOB"}

    def put_new(self, job: Job) -> None:
        self.table.put_item(Item=self._new_item(job), ConditionExpression="attribute_not_exists(pk)")

    def put_queued(self, jobs: list[Job]) -> None:
        """A batch's jobs recorded at acceptance (not staged), in BatchWriteItem chunks of 25; writing
        the same jobs again (a retried registration, before any of them started) changes nothing."""
        with self.table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as writer:
            for job in jobs:
                writer.put_item(Item={**self._new_item(job), "staged": False})

    def stage(self, job: Job) -> bool:
        """A recorded batch job's stored inputs (its whole spec), once; False if it is no longer queued."""
        try:
            self.table.update_item(
                Key=self._key(job.id),
                UpdateExpression="SET spec = :spec, staged = :yes, updated_at = :now",
                ConditionExpression="#s = :q AND staged = :no",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":spec": json.dumps(asdict(job.spec)),
                    ":yes": True,
                    ":no": False,
                    ":q": str(JobStatus.QUEUED),
                    ":now": _num(job.updated_at),
                },
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def _new_item(self, job: Job) -> dict[str, Any]:
        item: dict[str, Any] = {
            **self._key(job.id),
            "id": job.id,
            "tenant": job.tenant,
            "provider": job.provider,
            "status": str(job.status),
            "spec": json.dumps(asdict(job.spec)),
            "metadata": json.dumps(job.metadata),
            "created_at": _num(job.created_at),
            "updated_at": _num(job.updated_at),
            "gsi1pk": f"TENANT#{job.tenant}",
            "gsi1sk": f"{job.id}",
            "ttl": int(job.created_at) + self.ttl_days * 86400,
        }
        for name in ("webhook_url", "idempotency_key", "correlation_id", "batch_id", "submitted_by"):
            if getattr(job, name):
                item[name] = getattr(job, name)
        return item

    def _item(self, job_id: str) -> dict[str, Any]:
        item = self.table.get_item(Key=self._key(job_id), ConsistentRead=True).get("Item")
        if not item:
            raise JobNotFoundError(job_id)
        return item

    def get(self, job_id: str) -> Job:
        return self._to_job(self._item(job_id))

    @staticmethod
    def _to_job(item: dict[str, Any]) -> Job:
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

    def mark_processing(self, job_id: str, provider_job_id: str, at: float, *, provider: str) -> None:
        try:
            self.table.update_item(
                Key=self._key(job_id),
                UpdateExpression=(
                    "SET #s = :p, provider_job_id = :pid, provider = :prov, submitted_at = :at, updated_at = :at"
                ),
                ConditionExpression="#s = :q",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":p": str(JobStatus.PROCESSING),
                    ":q": str(JobStatus.QUEUED),
                    ":pid": provider_job_id,
                    ":prov": provider,
                    ":at": _num(at),
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def store_token(self, job_id: str, token: str, poll: dict[str, Any]) -> dict[str, Any] | None:
        item = self.table.update_item(
            Key=self._key(job_id),
            UpdateExpression="SET task_token = :t, poll = :p",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":t": token, ":p": json.dumps(poll)},
            ReturnValues="ALL_NEW",
        )["Attributes"]
        return json.loads(item["provider_result"]) if item.get("provider_result") else None

    def record_result(self, job_id: str, result: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """Record the first terminal provider result; duplicates and late ones change nothing."""
        try:
            item = self.table.update_item(
                Key=self._key(job_id),
                UpdateExpression="SET provider_result = :r, result_at = :now",
                ConditionExpression="attribute_exists(pk) AND #s IN (:q, :p) AND attribute_not_exists(provider_result)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":r": json.dumps(result),
                    ":q": _OPEN[0],
                    ":p": _OPEN[1],
                    ":now": _num(time.time()),
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if _conditional_failed(exc):
                return None
            raise
        if not item.get("task_token"):
            return None
        return item["task_token"], json.loads(item.get("poll") or "{}")

    def recorded_result(self, job_id: str) -> dict[str, Any] | None:
        raw = self._item(job_id).get("provider_result")
        return json.loads(raw) if raw else None

    def finish(
        self,
        job_id: str,
        status: str,
        outputs: list[Output],
        error: JobError | None,
        at: float,
        *,
        expires: tuple[float, float | None] | None = None,
    ) -> bool:
        sets, removes, values = _expiry_update(expires, self.ttl_days)
        try:
            self.table.update_item(
                Key=self._key(job_id),
                UpdateExpression=(
                    "SET #s = :s, outputs = :o, #e = :e, finished_at = :at, updated_at = :at, "
                    f"event_state = :pending{sets} REMOVE task_token{removes}"
                ),
                ConditionExpression="#s IN (:q, :p)",
                ExpressionAttributeNames={"#s": "status", "#e": "error", **({"#ttl": "ttl"} if expires else {})},
                ExpressionAttributeValues={
                    **values,
                    ":s": str(status),
                    ":o": json.dumps([asdict(o) for o in outputs]),
                    ":e": json.dumps(asdict(error)) if error else "",
                    ":at": _num(at),
                    ":pending": "pending",
                    ":q": _OPEN[0],
                    ":p": _OPEN[1],
                },
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def event_pending(self, job_id: str) -> bool:
        return self._item(job_id).get("event_state") == "pending"

    def mark_event_sent(self, job_id: str) -> None:
        self.table.update_item(
            Key=self._key(job_id),
            UpdateExpression="SET event_state = :sent",
            ExpressionAttributeValues={":sent": "sent"},
        )

    def claim_event(self, job_id: str) -> bool:
        """pending -> claimed, once: a cancel and a finisher racing on one job publish one event.

        A claim older than EVENT_CLAIM_STALE_SECONDS is taken over (its publisher crashed).
        """
        now = time.time()
        try:
            self.table.update_item(
                Key=self._key(job_id),
                UpdateExpression="SET event_state = :claimed, event_claimed_at = :now",
                ConditionExpression="event_state = :pending OR (event_state = :claimed AND event_claimed_at < :stale)",
                ExpressionAttributeValues={
                    ":claimed": "claimed",
                    ":pending": "pending",
                    ":now": _num(now),
                    ":stale": _num(now - EVENT_CLAIM_STALE_SECONDS),
                },
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def release_event(self, job_id: str) -> None:
        """Hand a claimed event back (its publish failed) so a retry publishes it."""
        try:
            self.table.update_item(
                Key=self._key(job_id),
                UpdateExpression="SET event_state = :pending",
                ConditionExpression="event_state = :claimed",
                ExpressionAttributeValues={":pending": "pending", ":claimed": "claimed"},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def list_for_tenant(self, tenant: str, status: str | None, limit: int, after: str | None) -> tuple[list[Job], bool]:
        """Newest first from the `by-tenant` index (sort key = the job id, a ULID); `after` is a job id."""
        condition = "gsi1pk = :t" + (" AND gsi1sk < :after" if after else "")
        values: dict[str, Any] = {":t": f"TENANT#{tenant}", ":job": "JOB"}
        if after:
            values[":after"] = after
        query: dict[str, Any] = {
            "IndexName": "by-tenant",
            "KeyConditionExpression": condition,
            "FilterExpression": "sk = :job" + (" AND #s = :s" if status else ""),
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit + 1 if not status else 100,
        }
        if status:
            query["ExpressionAttributeNames"] = {"#s": "status"}
            values[":s"] = status
        items, more = query_page(self.table, query, limit)
        return [self._to_job(item) for item in items], more

    # ---- retention and deletion (jobs/retention.py) ------------------------------------------------

    def _update_if(self, job_id: str, **update: Any) -> bool:
        """One conditional update: False when its condition does not hold (the change was made already)."""
        try:
            self.table.update_item(Key=self._key(job_id), **update)
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def tombstone(self, job_id: str, at: float) -> bool:
        return self._update_if(
            job_id,
            UpdateExpression=(
                "SET deleted_at = :at, updated_at = :at, metadata = :empty "
                "REMOVE webhook_url, correlation_id, idempotency_key, provider_result, task_token, poll"
            ),
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(deleted_at)",
            ExpressionAttributeValues={":at": _num(at), ":empty": "{}"},
        )

    def mark_erased(self, job_id: str, part: str, at: float) -> None:
        attribute = {"inputs": "inputs_erased_at", "outputs": "outputs_erased_at"}[part]
        self.table.update_item(
            Key=self._key(job_id),
            UpdateExpression=f"SET {attribute} = if_not_exists({attribute}, :at)",
            ExpressionAttributeValues={":at": _num(at)},
        )

    def claim_deleted_event(self, job_id: str) -> bool:
        return self._update_if(
            job_id,
            UpdateExpression="SET deleted_event = :sent",
            ConditionExpression="attribute_not_exists(deleted_event)",
            ExpressionAttributeValues={":sent": "sent"},
        )

    def due_for_erasure(self, now: float) -> list[Job]:
        """A filtered scan (the sweep runs hourly, and a job record is small); also deletions on request whose
        eraser invocation was lost (a tombstone not yet announced)."""
        scan: dict[str, Any] = {
            "FilterExpression": (
                "sk = :job AND ((inputs_expire_at <= :now AND attribute_not_exists(inputs_erased_at)) "
                "OR (outputs_expire_at <= :now AND attribute_not_exists(outputs_erased_at)) "
                "OR (attribute_exists(deleted_at) AND attribute_not_exists(deleted_event)))"
            ),
            "ExpressionAttributeValues": {":job": "JOB", ":now": _num(now)},
        }
        jobs: list[Job] = []
        while True:
            page = self.table.scan(**scan)
            jobs.extend(self._to_job(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return jobs
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class DynamoApiKeys:
    """Looks up an API key's tenant by its SHA-256 hash (keys are created by storage.tenants)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def tenant_for(self, api_key: str) -> str | None:
        item = self.table.get_item(Key={"pk": f"KEY#{hash_key(api_key)}", "sk": "KEY"}).get("Item")
        if not item or item.get("revoked"):
            return None
        return str(item["tenant"])
