"""Batches in the jobs table: `BATCH#<id>`/`BATCH` holds the counts, `BATCH#<id>`/`M#<job id>` each member.

A member moves by a conditional write on its current state (so of a cancel and a finisher racing, one
wins); the batch counts each state as a set of job ids (ADD/DELETE in one atomic UpdateItem), so a
transition reported twice, or repaired after a crash, counts once.

A big batch (a JSONL manifest, up to 100,000 jobs) spreads those sets over `shards` items so none
nears DynamoDB's 400 KB item limit: shard 0 is the batch record itself, shard n > 0 is
`BATCH#<id>`/`COUNT#<n>`, and a job's shard is crc32(job id) mod shards. Every batch is created
`sealed: false` with no members; its members are added (`add_members`: at acceptance, or by a JSONL
manifest's Register passes) and then it is `seal`ed with its total.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from ..jobs.exceptions import BatchNotFoundError
from ..jobs.models import COUNTED, TERMINAL, Batch, BatchMember, MemberMove
from .table import num, put_if_absent, query_page, read_all, write_if, written_if, written_or_current

MEMBER_FIELDS = "#i, job_id, #s, outputs, #e"
MEMBER_NAMES = {"#i": "index", "#s": "status", "#e": "error"}
SHARD_PREFIX = "COUNT#"


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
        # batch id -> (count shards, manifest location): both fixed when the batch is created
        self._fixed: dict[str, tuple[int, dict[str, Any] | None]] = {}

    @staticmethod
    def _key(batch_id: str, job_id: str | None = None) -> dict[str, str]:
        return {"pk": f"BATCH#{batch_id}", "sk": f"M#{job_id}" if job_id else "BATCH"}

    def get(self, batch_id: str, *, counts: bool = True) -> Batch:
        item = self.table.get_item(Key=self._key(batch_id), ConsistentRead=True).get("Item")
        if not item:
            raise BatchNotFoundError(batch_id)
        return self._to_batch(item, counts=counts)

    def _to_batch(self, item: dict[str, Any], *, counts: bool = True) -> Batch:
        """The batch record as a Batch; a sharded batch's counts add its shards' (one Query), unless
        `counts` is off: then they are the record's own only."""
        counted = _counts(item)
        if counts and int(item.get("shards", 1)) > 1:
            for shard in self._query(
                item["id"], SHARD_PREFIX, "sk, " + ", ".join(f"ids_{n}" for n in (*TERMINAL, "processing"))
            ):
                for name, n in _counts(shard).items():
                    counted[name] += n
        return Batch(
            id=item["id"],
            tenant=item["tenant"],
            total=int(item["total"]),
            providers=json.loads(item["providers"]),
            created_at=float(item["created_at"]),
            counts=counted,
            manifest=json.loads(item["manifest"]) if item.get("manifest") else None,
            sealed=bool(item.get("sealed", True)),
            completion=item.get("completion"),
            finished_at=float(item["finished_at"]) if "finished_at" in item else None,
            deleted_at=float(item["deleted_at"]) if "deleted_at" in item else None,
            cancelled_at=float(item["cancelled_at"]) if "cancelled_at" in item else None,
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
            request=item.get("request"),
        )

    def mark_deleted(self, batch_id: str, at: float) -> None:
        self._mark(batch_id, "deleted_at", at)

    def mark_cancelled(self, batch_id: str, at: float) -> None:
        self._mark(batch_id, "cancelled_at", at)

    def _mark(self, batch_id: str, name: str, at: float) -> None:
        self.table.update_item(
            Key=self._key(batch_id),
            UpdateExpression=f"SET {name} = if_not_exists({name}, :at)",
            ExpressionAttributeValues={":at": num(at)},
        )

    def forget_requests(self, batch_id: str) -> None:
        """Deletion: the members' accepted requests (they may hold data: URIs of faces) are emptied."""
        for member in self.members(batch_id):
            self.table.update_item(
                Key=self._key(batch_id, member.job_id),
                UpdateExpression="SET #r = :empty",
                ExpressionAttributeNames={"#r": "request"},
                ExpressionAttributeValues={":empty": "{}"},
            )

    def request(self, batch_id: str, job_id: str) -> str:
        return str(self._member_item(batch_id, job_id)["request"])

    def member(self, batch_id: str, job_id: str) -> BatchMember:
        return self._to_member(self._member_item(batch_id, job_id))

    def members(self, batch_id: str) -> list[BatchMember]:
        items = self._query(batch_id, "M#", MEMBER_FIELDS, MEMBER_NAMES)
        return sorted((self._to_member(i) for i in items), key=lambda m: m.index)

    def members_page(self, batch_id: str, limit: int, after: str | None) -> tuple[list[BatchMember], bool]:
        """One Query of at most `limit` (+1, to know whether more follow) members: sort keys `M#<job id>`
        run in index order (derived ids sort by index), so a page never reads the rest of the batch."""
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :m)",
            "ExpressionAttributeValues": {":pk": f"BATCH#{batch_id}", ":m": "M#"},
            "ProjectionExpression": MEMBER_FIELDS,
            "ExpressionAttributeNames": MEMBER_NAMES,
            "Limit": limit + 1,
        }
        if after:
            query["ExclusiveStartKey"] = self._key(batch_id, after)
        items, more = query_page(self.table, query, limit)
        return [self._to_member(i) for i in items], more

    def _query(
        self, batch_id: str, prefix: str, projection: str, names: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :m)",
            "ExpressionAttributeValues": {":pk": f"BATCH#{batch_id}", ":m": prefix},
            "ProjectionExpression": projection,
        }
        if names:
            query["ExpressionAttributeNames"] = names
        return read_all(self.table.query, query)

    # ---- big batches (JSONL manifests) ----------------------------------------------------------

    def create_open(self, batch: Batch, shards: int) -> bool:
        """A batch whose members come later (`add_members`, then `seal`); False if it exists."""
        item: dict[str, Any] = {
            **self._key(batch.id),
            "id": batch.id,
            "tenant": batch.tenant,
            "total": 0,
            "providers": json.dumps(batch.providers),
            "created_at": num(batch.created_at),
            "ttl": int(batch.created_at) + self.ttl_days * 86400,
            "sealed": False,
            "shards": max(1, shards),
        }
        return self._put_new_batch(batch, item)

    def _put_new_batch(self, batch: Batch, item: dict[str, Any]) -> bool:
        if batch.manifest:
            item["manifest"] = json.dumps(batch.manifest)
        return put_if_absent(self.table, item)

    def add_members(self, batch: Batch, members: list[tuple[BatchMember, str]]) -> None:
        """BatchWriteItem in chunks of 25 (boto3's batch writer); a rerun writes the same items again."""
        ttl = int(batch.created_at) + self.ttl_days * 86400
        with self.table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as writer:
            for member, request in members:
                item = {
                    **self._key(batch.id, member.job_id),
                    "index": member.index,
                    "job_id": member.job_id,
                    "status": member.status,
                    "request": request,
                    "ttl": ttl,
                }
                if member.error:
                    item["error"] = json.dumps(member.error)
                writer.put_item(Item=item)
        for refused, _ in members:
            if refused.terminal:  # a line refused at registration: counted now
                self._count(batch.id, refused.job_id, f"ADD ids_{refused.status} :id")

    def seal(self, batch_id: str, total: int, providers: list[str]) -> None:
        self.table.update_item(
            Key=self._key(batch_id),
            UpdateExpression="SET #t = :t, sealed = :yes, providers = :p",
            ExpressionAttributeNames={"#t": "total"},
            ExpressionAttributeValues={":t": total, ":yes": True, ":p": json.dumps(providers)},
        )

    def set_token(self, batch_id: str, job_id: str, token: str) -> BatchMember | None:
        """Park the runner's token on the member and return it; None (nothing written) if there is no such
        member, so a runner input naming a job the batch does not have cannot fail its execution."""
        answer = written_if(
            self.table.update_item,
            Key=self._key(batch_id, job_id),
            UpdateExpression="SET #t = :t",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#t": "token"},
            ExpressionAttributeValues={":t": token},
            ReturnValues="ALL_NEW",
        )
        return self._to_member(answer["Attributes"]) if answer else None

    def transition(
        self,
        batch_id: str,
        job_id: str,
        status: str,
        outputs: list[dict[str, Any]] | None = None,
        error: dict[str, Any] | None = None,
    ) -> MemberMove:
        """Member first (conditional on its state: one winner), then the batch's id sets (idempotent).

        Both writes return their item, so a move costs two requests and no read: the member as the
        write left it (or as it stood when another move won) and, for a batch of one shard, the batch
        with its counts. Counts are the sizes of per-state sets of job ids on the batch record; adding an
        id twice changes nothing, so a retry after a crash between the two writes repairs the count
        instead of doubling it. (A transaction would do too, but costs double and, in moto, copies the
        table.)
        """
        values: dict[str, Any] = {
            ":to": status,
            ":q": "queued",
            ":o": json.dumps(outputs or []),
            ":e": json.dumps(error) if error else "",
        }
        allowed = ":q"
        if status != "processing":  # an end comes from queued or processing; a start only from queued
            values[":p"], allowed = "processing", ":q, :p"
        changed, item = written_or_current(
            self.table.update_item,
            Key=self._key(batch_id, job_id),
            UpdateExpression="SET #s = :to, outputs = :o, #e = :e",
            ConditionExpression=f"attribute_exists(pk) AND #s IN ({allowed})",
            ExpressionAttributeNames={"#s": "status", "#e": "error"},
            ExpressionAttributeValues=values,
        )
        if not item:
            raise BatchNotFoundError(batch_id)
        final, batch = item["status"], None
        if final == "processing":
            batch = self._count(batch_id, job_id, "ADD ids_processing :id")
        elif final in TERMINAL:
            batch = self._count(batch_id, job_id, f"ADD ids_{final} :id DELETE ids_processing :id")
        return MemberMove(changed, self._to_member(item), batch)

    def _count(self, batch_id: str, job_id: str, expression: str) -> Batch | None:
        """Count the job in its shard; the batch as the count left it when the shard is the whole batch."""
        whole = self._fixed_of(batch_id)[0] == 1
        answer = self.table.update_item(
            Key=self._shard_key(batch_id, job_id),
            UpdateExpression=expression,
            ExpressionAttributeValues={":id": {job_id}},
            ReturnValues="ALL_NEW" if whole else "NONE",
        )
        counted = answer.get("Attributes") or {}
        return self._to_batch(counted) if whole and "id" in counted else None

    def manifest(self, batch_id: str) -> dict[str, Any] | None:
        return self._fixed_of(batch_id)[1]

    def _shard_key(self, batch_id: str, job_id: str) -> dict[str, str]:
        shard = zlib.crc32(job_id.encode()) % self._fixed_of(batch_id)[0]
        return self._key(batch_id) if shard == 0 else {"pk": f"BATCH#{batch_id}", "sk": f"{SHARD_PREFIX}{shard}"}

    def _fixed_of(self, batch_id: str) -> tuple[int, dict[str, Any] | None]:
        """(count shards, manifest location): both fixed when the batch is created, read once per environment."""
        fixed = self._fixed.get(batch_id)
        if fixed is None:
            item = (
                self.table.get_item(
                    Key=self._key(batch_id), ProjectionExpression="shards, manifest", ConsistentRead=True
                ).get("Item")
                or {}
            )
            manifest = json.loads(item["manifest"]) if item.get("manifest") else None
            fixed = self._fixed[batch_id] = (int(item.get("shards", 1)), manifest)
        return fixed

    def claim_completion(self, batch_id: str, by: str, at: float) -> bool:
        return write_if(
            self.table.update_item,
            Key=self._key(batch_id),
            UpdateExpression="SET completion = :pending, completion_by = :by, finished_at = :at",
            ConditionExpression="attribute_not_exists(completion) OR (completion = :pending AND completion_by = :by)",
            ExpressionAttributeValues={":pending": "pending", ":by": by, ":at": num(at)},
        )

    def mark_completion_sent(self, batch_id: str) -> None:
        self.table.update_item(
            Key=self._key(batch_id),
            UpdateExpression="SET completion = :sent",
            ExpressionAttributeValues={":sent": "sent"},
        )
