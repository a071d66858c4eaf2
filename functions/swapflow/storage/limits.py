"""Provider leases in the jobs table: `LIMIT#<provider>`/`LIMIT`, one small item per provider.

The item holds the state as JSON (`state`) and a `version`; every change is a conditional write on
the version it read (compare-and-set), so two Lambdas racing for the last slot cannot both take it,
and a release racing an acquire makes the acquire read again instead of writing back a stale lease.
"""

from __future__ import annotations

import json
from typing import Any

from ..jobs.limits import LeaseState
from .table import written_or_current

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
        body = json.dumps({"leases": state.leases, "starts": list(state.starts)}, separators=(",", ":"))
        stored, current = written_or_current(
            self.table.put_item,
            Item={**self._key(provider), "state": body, "version": version + 1},
            ConditionExpression="attribute_not_exists(pk) OR version = :v" if version == 0 else "version = :v",
            ExpressionAttributeValues={":v": version},
        )
        return None if stored else _state_of(current)

    def release(self, provider: str, job_id: str) -> None:
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
    """The stored state and its version (0: never written)."""
    if not item:
        return LeaseState(), 0
    data = json.loads(item["state"])
    # a start logged before starts named their job (a bare time) keeps counting, under no job
    starts = tuple(("", float(s)) if isinstance(s, (int, float)) else (str(s[0]), float(s[1])) for s in data["starts"])
    return LeaseState(dict(data["leases"]), starts), int(item["version"])
