"""Typed views of the API's answers: what `Client` returns (each keeps the raw JSON in `raw`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The domain's job model is standard library only (no boto3, no pydantic): the client shares its names.
from ..jobs.models import TERMINAL, JobError
from ..jobs.models import Output as StoredOutput

__all__ = ["TERMINAL", "Batch", "Job", "JobError", "Output", "Upload"]


@dataclass(frozen=True)
class Output(StoredOutput):
    """One archived result (the domain's output record, as shown): `url` is presigned (no key needed);
    `base64` only with enable_base64_output."""

    url: str | None = None
    base64: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Output:
        return cls(
            bucket=str(data.get("bucket", "")),
            key=str(data.get("key", "")),
            content_type=str(data.get("content_type", "")),
            width=int(data.get("width") or 0),
            height=int(data.get("height") or 0),
            bytes=int(data.get("bytes") or 0),
            sha256=str(data.get("sha256", "")),
            note=data.get("note"),
            nsfw=data.get("nsfw"),
            url=data.get("url"),
            base64=data.get("base64"),
        )


@dataclass(frozen=True)
class Job:
    """A job as `GET /v1/jobs/{id}` shows it; the 202 of a submit fills only id, status and metadata."""

    id: str
    status: str
    provider: str | None = None
    outputs: tuple[Output, ...] = ()
    error: JobError | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def output(self) -> Output | None:
        """The first output (a swap has one), or None before completion."""
        return self.outputs[0] if self.outputs else None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        error = data.get("error")
        return cls(
            id=str(data["id"]),
            status=str(data.get("status", "")),
            provider=data.get("provider"),
            outputs=tuple(Output.from_dict(o) for o in data.get("outputs") or ()),
            error=JobError(str(error.get("code")), str(error.get("message")), error.get("provider_code"))
            if isinstance(error, Mapping)
            else None,
            metadata=dict(data.get("metadata") or {}),
            timings=dict(data.get("timings") or {}),
            created_at=data.get("created_at"),
            updated_at=data.get("updated_at"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Upload:
    """A presigned PUT (`url` with `headers`, no API key) and the `image_ref` to use as a job input."""

    id: str
    image_ref: str
    url: str
    headers: dict[str, str]
    download_url: str
    expires_at: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Upload:
        upload = data.get("upload") or {}
        return cls(
            id=str(data.get("id", "")),
            image_ref=str(data["image_ref"]),
            url=str(upload.get("url", "")),
            headers={str(k): str(v) for k, v in (upload.get("headers") or {}).items()},
            download_url=str(data.get("download_url", "")),
            expires_at=str(data.get("expires_at", "")),
        )


@dataclass(frozen=True)
class Batch:
    id: str
    status: str
    counts: dict[str, int]
    jobs: tuple[dict[str, Any], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Batch:
        return cls(
            id=str(data["id"]),
            status=str(data.get("status", "")),
            counts={str(k): int(v) for k, v in (data.get("counts") or {}).items()},
            jobs=tuple(data.get("jobs") or ()),
            raw=dict(data),
        )
