"""JSONL manifests: up to 100,000 job requests, one per line, run by the manifest runner.

Where they come from: an object `inbox/<path>.jsonl` (the trigger tenant's, like JSON manifests), or
`POST /v1/batches {"manifest": "s3://<input bucket>/uploads/<tenant>/<path>.jsonl"}` (or the key) for
a file the client uploaded. Acceptance is quick and bounded: the object must exist and be the
caller's; the batch record is created open (`sealed: false`) and the manifest runner is started.

The runner (infra/constructs/batches.py, ManifestRunner) then:
1. Register (a Lambda, again and again until `done`): reads the next part of the object (a byte range,
   so memory stays flat whatever the size), checks each line as a job request (the fields of
   POST /v1/jobs; image refs relative to the manifest's folder), and writes each job's record and the
   batch's members in BatchWriteItem chunks (`BatchService.register`): every job has its id, is
   listed and readable `queued` before any job runs. A line that is not a valid request is a member
   `failed` with the reason and no job record (one bad line does not refuse 100,000 good ones). The
   last part seals the batch with its total.
   A line that is not JSON at all refuses the whole manifest (the Distributed Map's JSONL reader
   would fail on it): the first pass scans the object, writes `outbox/<path>.error.json` {manifest,
   errors: [{path: "line N", message}]} and ends the batch with no jobs.
2. RunJobs (Distributed Map, ItemReader: the same object as JSONL, ResultWriter: S3): each item is
   one line's index; its job id is derived from (batch id, index), the same as at registration, and
   it runs as any batch job (a slot held for the job's life, the global provider leases).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .batch_requests import MAX_ERRORS
from .batch_tracker import json_bytes
from .batches import BatchService
from .exceptions import BatchInvalidError, BlobMissingError, RequestInvalidError
from .manifests import ERROR, INBOX, JSONL_SUFFIX, UPLOADS, ManifestLocation, error_document
from .models import Batch, new_job_id
from .ports import Workflow

CHUNK_BYTES = 1024 * 1024  # read per Register pass (a line may not be longer)
PASS_SECONDS = 60.0  # a Register pass stops after this and hands on its place (Lambda timeout: 15 min)
MAX_JSONL_JOBS = 100_000
# Count shards: a shard's id sets stay under ~220 KB (DynamoDB items: 400 KB) with 8,000 ids, and the
# shortest job request line is about 40 bytes, so a manifest of S bytes has at most S / 40 jobs.
IDS_PER_SHARD = 8000
MIN_LINE_BYTES = 40


@dataclass(frozen=True)
class Place:
    """Where registration stands: the next byte to read and the index of the next job."""

    offset: int = 0
    index: int = 0
    providers: tuple[str, ...] = ()
    done: bool = False
    max_concurrency: int = 1
    refused: bool = False  # a line is not JSON: no jobs (outbox/<path>.error.json says which)

    def to_dict(self, batch_id: str, manifest: dict[str, Any]) -> dict[str, Any]:
        return {
            "batch_id": batch_id,
            "manifest": manifest,
            "offset": self.offset,
            "index": self.index,
            "providers": list(self.providers),
            "done": self.done,
            "max_concurrency": self.max_concurrency,
            "refused": self.refused,
        }


class JsonlManifests:
    def __init__(
        self,
        *,
        batches: BatchService,
        runner: Workflow,
        clock: Callable[[], float] = time.time,
        pass_seconds: float = PASS_SECONDS,
    ) -> None:
        self.batches = batches
        self.repo = batches.repo
        self.blobs = batches.blobs
        self.runner = runner
        self.clock = clock
        self.pass_seconds = pass_seconds

    # ---- accepting --------------------------------------------------------------------------------

    def location_for(self, tenant: str, ref: Any) -> ManifestLocation:
        """`s3://bucket/key` or a key: only the caller's uploads (or, for the trigger tenant, its inbox)."""
        if not isinstance(ref, str) or not ref.strip():
            raise RequestInvalidError(
                "invalid_request", "manifest is an s3:// URL or a key of a .jsonl file", "manifest"
            )
        bucket = self.batches.settings.input_bucket
        key = ref.strip()
        if key.startswith("s3://"):
            named, _, key = key[5:].partition("/")
            if named != bucket:
                raise RequestInvalidError("url_not_allowed", "only objects in the input bucket can be read", "manifest")
        own = key.startswith(f"{UPLOADS}{tenant}/") or (
            tenant == self.batches.settings.trigger_tenant and key.startswith(INBOX)
        )
        if not own or not key.endswith(JSONL_SUFFIX) or ".." in key.split("/"):
            raise RequestInvalidError(
                "url_not_allowed", f"manifest must be a .jsonl file under {UPLOADS}{tenant}/", "manifest"
            )
        return ManifestLocation(bucket, key)

    def accept(self, tenant: str, location: ManifestLocation, *, batch_id: str | None = None) -> tuple[Batch, bool]:
        """Create the open batch and start its runner; (batch, created). The same id starts nothing new."""
        try:
            size = self.blobs.size(location.bucket, location.key)
        except BlobMissingError:
            raise RequestInvalidError("invalid_request", "the manifest does not exist", "manifest") from None
        now = self.clock()
        batch = Batch(
            id=batch_id or new_job_id(now),
            tenant=tenant,
            total=0,
            providers=[],
            created_at=now,
            manifest=location.to_dict(),
            sealed=False,
        )
        created = self.repo.create_open(batch, shards=math.ceil(size / MIN_LINE_BYTES / IDS_PER_SHARD))
        if not created:
            batch = self.repo.get(batch.id)
        self.runner.start(batch.id, Place().to_dict(batch.id, {"bucket": location.bucket, "key": location.key}))
        return batch, created

    # ---- the runner's steps -------------------------------------------------------------------------

    def register(self, batch_id: str, place: Place) -> Place:
        """One Register pass: members for the lines from `place` on, until the object or the pass ends."""
        batch = self.repo.get(batch_id)
        location = ManifestLocation.from_dict(batch.manifest or {})
        if place.offset == 0 and place.index == 0:
            errors = self._unreadable_lines(location)
            if errors:
                return self._refuse(batch, location, errors)
        started = self.clock()
        offset, index, providers = place.offset, place.index, set(place.providers)
        while self.clock() - started < self.pass_seconds:
            data = self.blobs.get_range(location.bucket, location.key, offset, CHUNK_BYTES)
            if not data:
                break
            whole = data if len(data) < CHUNK_BYTES else data[: data.rfind(b"\n") + 1]
            if not whole:  # a line longer than a whole chunk: it is refused, the rest goes on
                end = self._skip_line(location, offset)
                self.batches.register(batch, [(index, None, "the line is longer than 1 MiB")])
                offset, index = end, index + 1
                continue
            entries = []
            for line in whole.split(b"\n"):
                if not line.strip():
                    continue
                entry, provider = self._entry(index, line, location)
                entries.append(entry)
                if provider:
                    providers.add(provider)
                index += 1
            if index > MAX_JSONL_JOBS:
                raise BatchInvalidError([{"path": "", "message": f"a manifest has at most {MAX_JSONL_JOBS} jobs"}])
            self.batches.register(batch, entries)
            offset += len(whole)
        else:
            return Place(offset, index, tuple(sorted(providers)))
        names = sorted(providers)
        self.repo.seal(batch.id, index, names)
        sealed = self.repo.get(batch.id)
        if sealed.done >= sealed.total:  # nothing to run (every line refused, or an empty file)
            self.batches.tracker.complete(sealed, "registration")
        return Place(offset, index, tuple(names), True, self.batches.limits.for_providers(names))

    def _unreadable_lines(self, location: ManifestLocation) -> list[dict[str, str]]:
        """Lines that are not JSON (at most MAX_ERRORS), read part by part."""
        errors: list[dict[str, str]] = []
        offset, number = 0, 0
        while len(errors) < MAX_ERRORS:
            data = self.blobs.get_range(location.bucket, location.key, offset, CHUNK_BYTES)
            whole = data if len(data) < CHUNK_BYTES else data[: data.rfind(b"\n") + 1]
            if not whole:
                return errors
            for line in whole.split(b"\n"):
                number += 1
                if not line.strip():
                    continue
                try:
                    json.loads(line)
                except ValueError as exc:
                    errors.append({"path": f"line {number}", "message": f"not JSON: {exc}"})
            offset += len(whole)
            number -= 1  # the split's last (empty) piece is the next part's first line
        return errors

    def _refuse(self, batch: Batch, location: ManifestLocation, errors: list[dict[str, str]]) -> Place:
        document = json_bytes(error_document(location, errors[:MAX_ERRORS]))
        self.blobs.put(location.bucket, location.outbox(ERROR), document, "application/json")
        self.repo.seal(batch.id, 0, [])
        self.batches.tracker.complete(self.repo.get(batch.id), "registration")
        return Place(done=True, refused=True)

    def _entry(
        self, index: int, line: bytes, location: ManifestLocation
    ) -> tuple[tuple[int, dict[str, Any] | None, str | None], str | None]:
        """(index, request or None, why it was refused) for `BatchService.register`, and its provider."""
        try:
            (merged,) = self.batches.validate({"jobs": [json.loads(line)]}, location)  # JSON: scanned
        except BatchInvalidError as exc:
            problem = exc.errors[0]
            path = problem["path"].replace("jobs[0]", f"line {index + 1}", 1)
            return (index, None, f"{path}: {problem['message']}"), None
        except RequestInvalidError as exc:
            return (index, None, exc.message), None
        return (index, merged, None), str(merged.get("provider") or self.batches.settings.default_provider)

    def _skip_line(self, location: ManifestLocation, offset: int) -> int:
        while True:
            data = self.blobs.get_range(location.bucket, location.key, offset, CHUNK_BYTES)
            newline = data.find(b"\n")
            if not data or newline >= 0:
                return offset + (newline + 1 if newline >= 0 else len(data))
            offset += len(data)

    def run_item(self, batch_id: str, index: int, token: str) -> None:
        """RunJobs' step for the line at `index`: the batch job of that member."""
        batch = self.repo.get(batch_id, counts=False)  # its id and creation time name the member
        self.batches.run_item(batch_id, self.batches.member_id(batch, index), token)
