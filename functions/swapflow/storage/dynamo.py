"""The DynamoDB job repository: one table, conditional writes guard every state transition.

Items: job `JOB#<id>` (its codec: job_items.py), API key `KEY#<sha256>`, webhook delivery
`SEEN#<provider>#<delivery id>`.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from typing import Any

from ..jobs.exceptions import JobNotFoundError
from ..jobs.models import Job, JobError, JobStatus, Output
from .job_items import expiry_update, job_key, new_item, to_job
from .schema import TENANT_INDEX
from .table import num, query_page, read_all, write_if, written_if, written_or_current

_OPEN = [str(JobStatus.QUEUED), str(JobStatus.PROCESSING)]
EVENT_CLAIM_STALE_SECONDS = 30


def _result_of(item: dict[str, Any]) -> dict[str, Any] | None:
    raw = item.get("provider_result")
    return json.loads(raw) if raw else None


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class DynamoJobRepository:
    def __init__(self, table: Any, *, ttl_days: int = 30) -> None:
        self.table = table
        self.ttl_days = ttl_days

    _key = staticmethod(job_key)

    def _new_item(self, job: Job) -> dict[str, Any]:
        return new_item(job, self.ttl_days)

    def _update_if(self, job_id: str, **update: Any) -> bool:
        """One conditional update: False when its condition does not hold (the change was made already)."""
        return write_if(self.table.update_item, Key=self._key(job_id), **update)

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
        return self._update_if(
            job.id,
            UpdateExpression="SET spec = :spec, staged = :yes, updated_at = :now",
            ConditionExpression="#s = :q AND staged = :no",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":spec": json.dumps(asdict(job.spec)),
                ":yes": True,
                ":no": False,
                ":q": str(JobStatus.QUEUED),
                ":now": num(job.updated_at),
            },
        )

    def _item(self, job_id: str) -> dict[str, Any]:
        item = self.table.get_item(Key=self._key(job_id), ConsistentRead=True).get("Item")
        if not item:
            raise JobNotFoundError(job_id)
        return item

    def get(self, job_id: str) -> Job:
        return to_job(self._item(job_id))

    def mark_processing(self, job_id: str, provider_job_id: str, at: float, *, provider: str) -> None:
        self._update_if(
            job_id,
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
                ":at": num(at),
            },
        )

    def claim_submit(self, job_id: str, owner: str, at: float, stale_before: float) -> bool:
        return self._update_if(
            job_id,
            UpdateExpression="SET submit_claim = :o, submit_claimed_at = :at",
            ConditionExpression=(
                "#s = :q AND attribute_not_exists(provider_job_id) AND (attribute_not_exists(submit_claim)"
                " OR submit_claim = :o OR submit_claimed_at < :stale)"
            ),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":o": owner,
                ":at": num(at),
                ":q": str(JobStatus.QUEUED),
                ":stale": num(stale_before),
            },
        )

    def release_submit(self, job_id: str, owner: str) -> None:
        self._update_if(
            job_id,
            UpdateExpression="REMOVE submit_claim, submit_claimed_at",
            ConditionExpression="submit_claim = :o",
            ExpressionAttributeValues={":o": owner},
        )

    def store_token(
        self, job_id: str, token: str, poll: dict[str, Any], *, pass_started: float
    ) -> tuple[bool, dict[str, Any] | None]:
        # A pass whose task timed out may park its token after the retried pass parked the live one.
        kept, item = written_or_current(
            self.table.update_item,
            Key=self._key(job_id),
            UpdateExpression="SET task_token = :t, poll = :p, token_pass_at = :at",
            ConditionExpression=(
                "attribute_exists(pk) AND (attribute_not_exists(token_pass_at) OR token_pass_at <= :at)"
            ),
            ExpressionAttributeValues={":t": token, ":p": json.dumps(poll), ":at": num(pass_started)},
        )
        if not item:
            raise JobNotFoundError(job_id)
        return kept, _result_of(item)

    def record_result(self, job_id: str, result: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """Record the first terminal provider result; duplicates and late ones change nothing."""
        answer = written_if(
            self.table.update_item,
            Key=self._key(job_id),
            UpdateExpression="SET provider_result = :r, result_at = :now",
            ConditionExpression="attribute_exists(pk) AND #s IN (:q, :p) AND attribute_not_exists(provider_result)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":r": json.dumps(result),
                ":q": _OPEN[0],
                ":p": _OPEN[1],
                ":now": num(time.time()),
            },
            ReturnValues="ALL_NEW",
        )
        item = answer["Attributes"] if answer else {}
        if not item.get("task_token"):
            return None
        return item["task_token"], json.loads(item.get("poll") or "{}")

    def recorded_result(self, job_id: str) -> dict[str, Any] | None:
        return _result_of(self._item(job_id))

    def get_with_result(self, job_id: str) -> tuple[Job, dict[str, Any] | None]:
        item = self._item(job_id)
        return to_job(item), _result_of(item)

    def finish(
        self,
        job_id: str,
        status: str,
        outputs: list[Output],
        error: JobError | None,
        at: float,
        *,
        expires: tuple[float, float | None] | None = None,
    ) -> Job | None:
        sets, removes, values = expiry_update(expires, self.ttl_days)
        answer = written_if(
            self.table.update_item,
            Key=self._key(job_id),
            ReturnValues="ALL_NEW",
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
                ":at": num(at),
                ":pending": "pending",
                ":q": _OPEN[0],
                ":p": _OPEN[1],
            },
        )
        return to_job(answer["Attributes"]) if answer else None

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
        return self._update_if(
            job_id,
            UpdateExpression="SET event_state = :claimed, event_claimed_at = :now",
            ConditionExpression="event_state = :pending OR (event_state = :claimed AND event_claimed_at < :stale)",
            ExpressionAttributeValues={
                ":claimed": "claimed",
                ":pending": "pending",
                ":now": num(now),
                ":stale": num(now - EVENT_CLAIM_STALE_SECONDS),
            },
        )

    def release_event(self, job_id: str) -> None:
        """Hand a claimed event back (its publish failed) so a retry publishes it."""
        self._update_if(
            job_id,
            UpdateExpression="SET event_state = :pending",
            ConditionExpression="event_state = :claimed",
            ExpressionAttributeValues={":pending": "pending", ":claimed": "claimed"},
        )

    def list_for_tenant(self, tenant: str, status: str | None, limit: int, after: str | None) -> tuple[list[Job], bool]:
        """Newest first from the `by-tenant` index (sort key = the job id, a ULID); `after` is a job id."""
        condition = "gsi1pk = :t" + (" AND gsi1sk < :after" if after else "")
        values: dict[str, Any] = {":t": f"TENANT#{tenant}", ":job": "JOB"}
        if after:
            values[":after"] = after
        query: dict[str, Any] = {
            "IndexName": TENANT_INDEX,
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
        return [to_job(item) for item in items], more

    # ---- retention and deletion (jobs/retention.py) ------------------------------------------------

    def tombstone(self, job_id: str, at: float) -> bool:
        return self._update_if(
            job_id,
            UpdateExpression=(
                "SET deleted_at = :at, updated_at = :at, metadata = :empty "
                "REMOVE webhook_url, correlation_id, idempotency_key, provider_result, task_token, poll"
            ),
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(deleted_at)",
            ExpressionAttributeValues={":at": num(at), ":empty": "{}"},
        )

    def mark_erased(self, job_id: str, part: str, at: float) -> None:
        attribute = {"inputs": "inputs_erased_at", "outputs": "outputs_erased_at"}[part]
        self.table.update_item(
            Key=self._key(job_id),
            UpdateExpression=f"SET {attribute} = if_not_exists({attribute}, :at)",
            ExpressionAttributeValues={":at": num(at)},
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
            "ExpressionAttributeValues": {":job": "JOB", ":now": num(now)},
        }
        return [to_job(item) for item in read_all(self.table.scan, scan)]


class DynamoApiKeys:
    """Looks up an API key's tenant by its SHA-256 hash (keys are created by storage.tenants)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def tenant_for(self, api_key: str) -> str | None:
        item = self.table.get_item(Key={"pk": f"KEY#{hash_key(api_key)}", "sk": "KEY"}).get("Item")
        if not item or item.get("revoked"):
            return None
        return str(item["tenant"])
