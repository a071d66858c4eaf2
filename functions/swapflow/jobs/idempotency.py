"""One idempotency sequence for every entry point that creates jobs or batches (API, events, manifests).

The sequence: a key already held answers with its holder; otherwise the caller prepares its job (inputs
checked and stored, nothing recorded), reserves the key for the job's id with the request's fingerprint,
starts the job, and gives the key back if the start failed, so it is never burned by a failure.

Why our own module and not powertools Idempotency: powertools stores a function's *response* under a hash
of its payload and holds the record IN_PROGRESS while the function runs. Our keys must be reserved only
after the request passed its checks (a bad request never burns a key), they store a job id whose current
state is read on replay (not a response frozen at acceptance), two callers compare fingerprints with
their own errors (409 `idempotency_key_reused`, a rejected event), and a manifest's batch id is claimed
without any fingerprint. It rides the jobs table (storage/idempotency.py) instead of a second table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from .exceptions import RequestInvalidError
from .ports import IdempotencyRecords


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


Prepared = TypeVar("Prepared", bound=_HasId)
Result = TypeVar("Result")


class Idempotency:
    """The reservation sequence over `IdempotencyRecords`; with no records every call simply runs."""

    def __init__(self, records: IdempotencyRecords | None) -> None:
        self.records = records

    def once(
        self,
        tenant: str,
        key: str,
        fingerprint: str,
        *,
        prepare: Callable[[], Prepared],
        start: Callable[[Prepared], Result],
        replay: Callable[[str], Result],
        reused: Callable[[str], Exception],
    ) -> tuple[Result, bool]:
        """(result, replayed). `replay(job_id)` answers for the holder of the key when it holds it with the
        same fingerprint; a different fingerprint raises `reused(job_id)`. A concurrent duplicate loses
        the reservation and replays the winner."""
        records = self.records
        if records is None:
            return start(prepare()), False
        holder = records.held(tenant, key)
        if holder is None:
            prepared = prepare()
            holder = records.reserve(tenant, key, fingerprint, prepared.id)
            if holder[0] == prepared.id:
                try:
                    return start(prepared), False
                except Exception:
                    records.release(tenant, key, prepared.id)
                    raise
        job_id, held_fingerprint = holder
        if held_fingerprint != fingerprint:
            raise reused(job_id)
        return replay(job_id), True

    def claim(self, tenant: str, key: str, value: str) -> str:
        """The value held under `key`, or `value` once reserved for it (no fingerprint: a manifest's batch)."""
        if self.records is None:
            return value
        held = self.records.held(tenant, key)
        return held[0] if held else self.records.reserve(tenant, key, "", value)[0]


def check_idempotency_key(key: str) -> None:
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise RequestInvalidError(
            "invalid_request", "Idempotency-Key must be 1 to 255 printable characters", "Idempotency-Key"
        )


def request_fingerprint(body: Any) -> str:
    """The same JSON document, however its keys are ordered or spaced, has the same fingerprint."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
