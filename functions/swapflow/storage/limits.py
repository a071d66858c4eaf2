"""Provider leases in the jobs table: `LIMIT#<provider>`/`LIMIT`, one small item per provider.

The item holds the leases as a map (`leases`: job id -> expiry), the recent starts as JSON (`starts`)
and a `version`. Taking a lease or moving a start is a conditional write on the version it read
(compare-and-set), so two Lambdas racing for the last slot cannot both take it. Releasing is one
update of the job's own map entry (conditional only on the lease being there) that also moves the
version: it cannot lose a race, as a compare-and-set release did under a 10,000-job manifest (20 lost
attempts in a row), and an acquire that read before it tries again instead of writing the released
lease back.

Items written before the map (the whole state as JSON in `state`) are read as before and released by
compare-and-set; the next acquire rewrites them in the map form.
"""

from __future__ import annotations

import json
from typing import Any

from ..jobs.limits import LeaseState
from .table import num, written_or_current

RELEASE_ATTEMPTS = 20


class DynamoLeaseStore:
    def __init__(self, table: Any) -> None:
        self.table = table

    @staticmethod
    def _key(provider: str) -> dict[str, str]:
        return {"pk": f"LIMIT#{provider}", "sk": "LIMIT"}

    def read(self, provider: str) -> tuple[LeaseState, int]:
        item = self.table.get_item(Key=self._key(provider), ConsistentRead=True).get("Item")
        return _state_of(item)

    def swap(self, provider: str, state: LeaseState, version: int) -> tuple[LeaseState, int] | None:
        stored, current = written_or_current(
            self.table.put_item,
            Item={
                **self._key(provider),
                "leases": {job: num(exp) for job, exp in state.leases.items()},
                "starts": json.dumps(list(state.starts), separators=(",", ":")),
                "version": version + 1,
            },
            ConditionExpression="attribute_not_exists(pk) OR version = :v" if version == 0 else "version = :v",
            ExpressionAttributeValues={":v": version},
        )
        return None if stored else _state_of(current)

    def release(self, provider: str, job_id: str) -> None:
        released, current = written_or_current(
            self.table.update_item,
            Key=self._key(provider),
            UpdateExpression="REMOVE leases.#job ADD version :one",
            ConditionExpression="attribute_exists(leases.#job)",
            ExpressionAttributeNames={"#job": job_id},
            ExpressionAttributeValues={":one": 1},
        )
        if not released and "state" in current:  # an item from before the map
            self._release_legacy(provider, job_id)
        # otherwise released, or the job holds no lease: nothing to release

    def _release_legacy(self, provider: str, job_id: str) -> None:
        state, version = self.read(provider)
        for _ in range(RELEASE_ATTEMPTS):
            if job_id not in state.leases:
                return
            rest = {job: exp for job, exp in state.leases.items() if job != job_id}
            current = self.swap(provider, LeaseState(rest, state.starts), version)
            if current is None:
                return
            state, version = current
        raise RuntimeError(f"could not release the {provider} lease of job {job_id}: too much contention")


def _state_of(item: dict[str, Any] | None) -> tuple[LeaseState, int]:
    """The stored state and its version (0: never written), from either item form."""
    if not item:
        return LeaseState(), 0
    if "state" in item:  # before the map: the whole state as JSON
        data = json.loads(item["state"])
        leases, raw_starts = dict(data["leases"]), data["starts"]
    else:
        leases = {job: float(exp) for job, exp in (item.get("leases") or {}).items()}
        raw_starts = json.loads(item.get("starts") or "[]")
    # a start logged before starts named their job (a bare time) keeps counting, under no job
    starts = tuple(("", float(s)) if isinstance(s, (int, float)) else (str(s[0]), float(s[1])) for s in raw_starts)
    return LeaseState(leases, starts), int(item["version"])
