"""Batches in the jobs table: `BATCH#<id>`/`BATCH` holds the counts, `BATCH#<id>`/`M#<job id>` each member.

A member moves by a conditional write on its current state (so of a cancel and a finisher racing, one
wins); the batch counts each state as a set of job ids (ADD/DELETE in one atomic UpdateItem), so a
transition reported twice, or repaired after a crash, counts once.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from ..jobs.exceptions import BatchNotFoundError
from ..jobs.models import COUNTED, Batch, BatchMember

TERMINAL = ("completed", "failed", "cancelled")


def _failed(exc: ClientError, *codes: str) -> bool:
    return exc.response.get("Error", {}).get("Code") in codes


def _num(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))


def _counts(item: dict[str, Any]) -> dict[str, int]:
    """Sizes of the per-state id sets; a late `processing` report racing the end is not counted."""
    ended: set[str] = set()
    for name in TERMINAL:
        ended |= set(item.get(f"ids_{name}") or ())
    counts = {name: len(item.get(f"ids_{name}") or ()) for name in COUNTED}
    counts["processing"] = len(set(item.get("ids_processing") or ()) - ended)
    return counts


class DynamoBatchRepository:
    def __init__(self, table: Any, *, ttl_days: int = 30) -> None:
        self.table = table
        self.ttl_days = ttl_days

    @staticmethod
    def _key(batch_id: str, job_id: str | None = None) -> dict[str, str]:
        return {"pk": f"BATCH#{batch_id}", "sk": f"M#{job_id}" if job_id else "BATCH"}

    def create(self, batch: Batch, members: list[tuple[BatchMember, str]]) -> bool:
        """Members first, then the batch record (conditional): a crash in between leaves no batch."""
        if self.table.get_item(Key=self._key(batch.id), ConsistentRead=True).get("Item"):
            return False
        ttl = int(batch.created_at) + self.ttl_days * 86400
        with self.table.batch_writer() as writer:
            for member, request in members:
                writer.put_item(
                    Item={
                        **self._key(batch.id, member.job_id),
                        "index": member.index,
                        "job_id": member.job_id,
                        "status": member.status,
                        "request": request,
                        "ttl": ttl,
                    }
                )
        item: dict[str, Any] = {
            **self._key(batch.id),
            "id": batch.id,
            "tenant": batch.tenant,
            "total": batch.total,
            "providers": json.dumps(batch.providers),
            "created_at": _num(batch.created_at),
            "ttl": ttl,
        }
        if batch.manifest:
            item["manifest"] = json.dumps(batch.manifest)
        try:
            self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if _failed(exc, "ConditionalCheckFailedException"):
                return False
            raise
        return True

    def get(self, batch_id: str) -> Batch:
        item = self.table.get_item(Key=self._key(batch_id), ConsistentRead=True).get("Item")
        if not item:
            raise BatchNotFoundError(batch_id)
        return Batch(
            id=item["id"],
            tenant=item["tenant"],
            total=int(item["total"]),
            providers=json.loads(item["providers"]),
            created_at=float(item["created_at"]),
            counts=_counts(item),
            manifest=json.loads(item["manifest"]) if item.get("manifest") else None,
            completion=item.get("completion"),
            finished_at=float(item["finished_at"]) if "finished_at" in item else None,
        )

    def _member_item(self, batch_id: str, job_id: str) -> dict[str, Any]:
        item = self.table.get_item(Key=self._key(batch_id, job_id), ConsistentRead=True).get("Item")
        if not item:
            raise BatchNotFoundError(batch_id)
        return dict(item)

    @staticmethod
    def _to_member(item: dict[str, Any]) -> BatchMember:
        return BatchMember(
            index=int(item["index"]),
            job_id=item["job_id"],
            status=item["status"],
            outputs=json.loads(item.get("outputs") or "[]"),
            error=json.loads(item["error"]) if item.get("error") else None,
            token=item.get("token"),
        )

    def request(self, batch_id: str, job_id: str) -> str:
        return str(self._member_item(batch_id, job_id)["request"])

    def member(self, batch_id: str, job_id: str) -> BatchMember:
        return self._to_member(self._member_item(batch_id, job_id))

    def members(self, batch_id: str) -> list[BatchMember]:
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :m)",
            "ExpressionAttributeValues": {":pk": f"BATCH#{batch_id}", ":m": "M#"},
            "ProjectionExpression": "#i, job_id, #s, outputs, #e",
            "ExpressionAttributeNames": {"#i": "index", "#s": "status", "#e": "error"},
        }
        items: list[dict[str, Any]] = []
        while True:
            page = self.table.query(**query)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted((self._to_member(i) for i in items), key=lambda m: m.index)

    def set_token(self, batch_id: str, job_id: str, token: str) -> BatchMember | None:
        """Park the runner's token on the member and return it; None (nothing written) if there is no such
        member, so a runner input naming a job the batch does not have cannot fail its execution."""
        try:
            item = self.table.update_item(
                Key=self._key(batch_id, job_id),
                UpdateExpression="SET #t = :t",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#t": "token"},
                ExpressionAttributeValues={":t": token},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if _failed(exc, "ConditionalCheckFailedException"):
                return None
            raise
        return self._to_member(item)

    def transition(
        self,
        batch_id: str,
        job_id: str,
        status: str,
        outputs: list[dict[str, Any]] | None = None,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """Member first (conditional on its state: one winner), then the batch's id sets (idempotent).

        Counts are the sizes of per-state sets of job ids on the batch record; adding an id twice
        changes nothing, so a retry after a crash between the two writes repairs the count instead of
        doubling it. (A transaction would do too, but costs double and, in moto, copies the table.)
        """
        changed = False
        for _ in range(5):  # the member moved between our read and our write: read again
            current = self._member_item(batch_id, job_id)["status"]
            if current in TERMINAL or (status == "processing" and current != "queued"):
                break
            try:
                self.table.update_item(
                    Key=self._key(batch_id, job_id),
                    UpdateExpression="SET #s = :to, outputs = :o, #e = :e",
                    ConditionExpression="#s = :from",
                    ExpressionAttributeNames={"#s": "status", "#e": "error"},
                    ExpressionAttributeValues={
                        ":to": status,
                        ":from": current,
                        ":o": json.dumps(outputs or []),
                        ":e": json.dumps(error) if error else "",
                    },
                )
            except ClientError as exc:
                if _failed(exc, "ConditionalCheckFailedException"):
                    continue
                raise
            changed = True
            break
        final = self._member_item(batch_id, job_id)["status"]
        if final == "processing":
            self._count(batch_id, job_id, "ADD ids_processing :id")
        elif final in TERMINAL:
            self._count(batch_id, job_id, f"ADD ids_{final} :id DELETE ids_processing :id")
        return changed

    def _count(self, batch_id: str, job_id: str, expression: str) -> None:
        self.table.update_item(
            Key=self._key(batch_id), UpdateExpression=expression, ExpressionAttributeValues={":id": {job_id}}
        )

    def claim_completion(self, batch_id: str, by: str, at: float) -> bool:
        try:
            self.table.update_item(
                Key=self._key(batch_id),
                UpdateExpression="SET completion = :pending, completion_by = :by, finished_at = :at",
                ConditionExpression=(
                    "attribute_not_exists(completion) OR (completion = :pending AND completion_by = :by)"
                ),
                ExpressionAttributeValues={":pending": "pending", ":by": by, ":at": _num(at)},
            )
        except ClientError as exc:
            if _failed(exc, "ConditionalCheckFailedException"):
                return False
            raise
        return True

    def mark_completion_sent(self, batch_id: str) -> None:
        self.table.update_item(
            Key=self._key(batch_id),
            UpdateExpression="SET completion = :sent",
            ExpressionAttributeValues={":sent": "sent"},
        )
