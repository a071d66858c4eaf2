"""S3 manifests: a JSON object under `inbox/` in the input bucket is a batch (DESIGN 3).

A manifest is one job request, or `{"jobs": [request, ...], "defaults": {...}}`, with the fields of
`POST /v1/jobs`. Image fields may be keys relative to the manifest's folder (`photos/a.jpg` next to
`inbox/shoots/day1.json` is `inbox/shoots/photos/a.jpg`), `s3://<input bucket>/<key>`, URLs or data: URIs.
Stored images are read only inside the manifest's own folder (and the trigger tenant's uploads): a key
elsewhere in the bucket is refused like a missing one.

Everything a manifest produces goes to the input bucket's `outbox/`, beside where the user put it
(the archive keeps its own copy under `outputs/<tenant>/<job id>/`, as for every job). For
`inbox/shoots/day1.json`:
- `outbox/shoots/day1/<job id>.<ext>`: each job's output (`<job id>-<n>.<ext>` for a job's n-th extra output);
- `outbox/shoots/day1.result.json`: {manifest, batch_id, status, counts, jobs: [{index, id, status,
  outputs: [{bucket, key, ...}], error}]}, written when the manifest is accepted and rewritten as jobs end;
- `outbox/shoots/day1.error.json`: {manifest, errors: [{path, message}]} for a manifest that was refused
  as a whole (no job was started).
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import Any

from .exceptions import RequestInvalidError
from .models import derived_id

INBOX = "inbox/"
OUTBOX = "outbox/"
SUFFIX = ".json"
RESULT, ERROR, OUTPUTS = ".result.json", ".error.json", "/"  # ManifestLocation.outbox(...)
JSONL_SUFFIX = ".jsonl"  # one job request per line, up to 100,000 (jobs/jsonl.py)
UPLOADS = "uploads/"  # a manifest a client uploaded and POSTed: uploads/<tenant>/...
MAX_MANIFEST_BYTES = 10 * 1024 * 1024
_SCHEMES = ("https://", "http://", "data:", "s3://", "upload:")


def is_manifest(key: str) -> bool:
    return key.startswith(INBOX) and key.endswith(SUFFIX) and len(key) > len(INBOX) + len(SUFFIX)


def is_jsonl_manifest(key: str) -> bool:
    return key.startswith(INBOX) and key.endswith(JSONL_SUFFIX) and len(key) > len(INBOX) + len(JSONL_SUFFIX)


@dataclass(frozen=True)
class ManifestLocation:
    """One version of a manifest object, as the S3 event names it."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None

    @property
    def stem(self) -> str:
        """`inbox/shoots/day1.json` -> `shoots/day1`; `uploads/acme/big.jsonl` -> `acme/big`."""
        path = self.key.removeprefix(INBOX) if self.key.startswith(INBOX) else self.key.removeprefix(UPLOADS)
        return path.removesuffix(JSONL_SUFFIX) if path.endswith(JSONL_SUFFIX) else path.removesuffix(SUFFIX)

    def outbox(self, what: str) -> str:
        """Where the manifest's `RESULT`, `ERROR` or `OUTPUTS` go: beside its stem in `outbox/`."""
        return f"{OUTBOX}{self.stem}{what}"

    @property
    def identity(self) -> str:
        """This version of the object: (bucket, key, version id or ETag)."""
        return f"s3://{self.bucket}/{self.key}#{self.version_id or self.etag or ''}"

    def batch_id(self, at: float) -> str:
        """Derived from the object version (and the event's time, for sorting with other ids)."""
        return derived_id(self.identity, at)

    def to_dict(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "key": self.key, "version_id": self.version_id, "etag": self.etag}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ManifestLocation:
        return cls(data["bucket"], data["key"], data.get("version_id"), data.get("etag"))

    @property
    def folder(self) -> str:
        """`inbox/shoots/day1.json` -> `inbox/shoots/`: the only keys this manifest's jobs may read."""
        return posixpath.dirname(self.key) + "/"

    def resolve(self, ref: str, path: str) -> str:
        """An image field of the manifest as a job request sees it: keys relative to the manifest's folder
        become s3:// refs; one that leaves the folder (`../`, `/...`) is refused (DESIGN 7)."""
        if ref.startswith(_SCHEMES):
            return ref
        key = posixpath.normpath(posixpath.join(self.folder, ref)) if not ref.startswith("/") else ""
        if not key.startswith(self.folder):
            raise RequestInvalidError("invalid_request", f"{ref!r} points outside the manifest's folder", path)
        return f"s3://{self.bucket}/{key}"


def parse_manifest(data: bytes) -> dict[str, Any]:
    """The manifest as a batch body {jobs, defaults?}; RequestInvalidError if it is not one."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise RequestInvalidError("invalid_request", f"the manifest is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestInvalidError("invalid_json", f"the manifest is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise RequestInvalidError("invalid_request", "a manifest is a JSON object: one job request or {jobs: [...]}")
    return doc if "jobs" in doc else {"jobs": [doc]}


def error_document(location: ManifestLocation, errors: list[dict[str, str]]) -> dict[str, Any]:
    return {"manifest": location.to_dict(), "errors": errors}
