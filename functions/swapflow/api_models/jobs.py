"""POST /v1/jobs and the job as its tenant sees it."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, ValidationInfo, ValidatorFunctionWrapHandler, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ..jobs.models import JOB_ERROR_CODES, JobStatus
from ..jobs.validation import (
    MAX_FACES,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_WAIT_SECONDS,
    has_lone_surrogate,
    json_depth,
)
from .common import (
    EXAMPLE_JOB_ID,
    EXAMPLE_LINKS,
    EXAMPLE_SOURCE,
    EXAMPLE_TARGET,
    Answer,
    FaceIndex,
    ImageInput,
    Strict,
    Timestamp,
    examples,
    image_ref,
)


class Face(Strict):
    """One face to replace: this source's face onto the target's face number `target_face`."""

    source_image: ImageInput
    target_face: FaceIndex = Field(description="Which face of the target; faces are numbered left to right.")

    _images = field_validator("source_image")(image_ref)


class JobRequestBody(Strict):
    """The body of POST /v1/jobs (and each job of a batch). `source_image` is required unless `faces` is given."""

    model_config = examples(
        {"source_image": EXAMPLE_SOURCE, "target_image": EXAMPLE_TARGET},
        {
            "provider": "auto",
            "source_image": EXAMPLE_SOURCE,
            "target_image": EXAMPLE_TARGET,
            "output_format": "png",
            "metadata": {"order": "A-1042"},
            "wait": 20,
        },
    )

    provider: str | None = Field(
        None,
        description="engine (default, offline), akool, wavespeed-akool, wavespeed-pro, or auto "
        "(fall back to the next provider on quota, auth or persistent errors).",
    )
    source_image: ImageInput | None = None
    target_image: ImageInput
    face_enhance: bool = False
    target_index: FaceIndex | None = Field(
        None, description="Which face of the target to replace; faces are numbered left to right."
    )
    single_face_mode: bool = True
    output_format: Literal["jpeg", "png", "webp", "jpg"] = "jpeg"
    enable_base64_output: bool = Field(
        False,
        description="GET /v1/jobs/{id} (and a sync `wait`) then carry each output's bytes in `outputs[i].base64` "
        "(outputs over 4 MB: URL only).",
    )
    webhook_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Where the job's terminal event is POSTed (Standard Webhooks, signed with the tenant's "
        "whsec_ secret).",
    )
    metadata: dict[str, Any] | None = Field(
        None, description=f"Yours, up to {MAX_METADATA_BYTES} bytes of JSON; echoed in every view and event."
    )
    faces: list[Face] | None = Field(None, min_length=1, max_length=MAX_FACES)
    wait: float = Field(
        0,
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="Sync mode: hold the answer up to this many seconds; 200 with the job if it ends in time, "
        "else the 202 answer.",
    )

    _images = field_validator("source_image", "target_image")(image_ref)

    @field_validator("provider", mode="wrap")
    @classmethod
    def _known_provider(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        """Any bad `provider` is `unknown_provider`; the known names come from the domain's context."""
        known = (info.context or {}).get("providers")
        try:
            name = handler(value)
        except ValueError:
            name = None
        if not isinstance(name, str) or (known is not None and name not in known):
            names = ", ".join(sorted(known or ()))
            raise PydanticCustomError("unknown_provider", "must be one of: {names}", {"names": names})
        return name

    @field_validator("metadata")
    @classmethod
    def _bounded_metadata(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        if json_depth(value) > MAX_METADATA_DEPTH:
            raise PydanticCustomError("invalid_request", f"may nest at most {MAX_METADATA_DEPTH} levels deep")
        if has_lone_surrogate(value):
            raise PydanticCustomError("invalid_request", "holds an unpaired UTF-16 surrogate")
        if len(json.dumps(value)) > MAX_METADATA_BYTES:
            raise PydanticCustomError("invalid_request", f"must be at most {MAX_METADATA_BYTES} bytes of JSON")
        return value

    @model_validator(mode="after")
    def _has_a_source(self) -> JobRequestBody:
        if self.source_image is None and not self.faces:
            raise PydanticCustomError(
                "source_required", "source_image is required: an https URL, a data: URI or an upload ref"
            )
        return self


class Links(Answer):
    get: str
    cancel: str


class Accepted(Answer):
    """202 to POST /v1/jobs: follow `urls.get` until the job ends."""

    model_config = examples(
        {
            "id": EXAMPLE_JOB_ID,
            "status": "queued",
            "metadata": {"order": "A-1042"},
            "urls": EXAMPLE_LINKS,
        }
    )

    id: str
    status: JobStatus
    metadata: dict[str, Any] | None = None
    urls: Links


class Output(Answer):
    bucket: str
    key: str
    content_type: str
    width: int
    height: int
    bytes: int
    sha256: str
    nsfw: bool | None = Field(
        None, description="The provider's own NSFW flag for this output; null: not checked (engine, Akool)."
    )
    url: str | None = Field(None, description="Presigned GET, no key needed.")
    base64: str | None = Field(None, description="Only when the job asked for enable_base64_output.")
    note: str | None = Field(
        None,
        description="Only when delivering the asked output_format took a step: the provider's format was "
        "converted, or transparency was flattened on white for JPEG.",
    )


class JobError(Answer):
    code: Literal[tuple(sorted(JOB_ERROR_CODES))]  # type: ignore[valid-type]
    message: str
    provider_code: str | None = None


class Timings(Answer):
    queued_ms: int | None = None
    provider_ms: int | None = None
    total_ms: int | None = None


class ExpiresAt(Answer):
    """When retention deletes the job's inputs and outputs (null: not ended yet, or kept)."""

    inputs: Timestamp | None = None
    outputs: Timestamp | None = None


class Job(Answer):
    """A job as its tenant sees it (GET /v1/jobs/{id}, a sync wait, cancel, delete, the list)."""

    model_config = examples(
        {
            "id": EXAMPLE_JOB_ID,
            "status": "completed",
            "provider": "engine",
            "provider_job_id": None,
            "outputs": [
                {
                    "bucket": "swapflow-outputs",
                    "key": f"outputs/acme/{EXAMPLE_JOB_ID}/0.jpg",
                    "content_type": "image/jpeg",
                    "width": 1024,
                    "height": 768,
                    "bytes": 183204,
                    "sha256": "9f2c...",
                    "nsfw": None,
                    "url": "https://swapflow-outputs.s3.amazonaws.com/outputs/...",
                }
            ],
            "error": None,
            "metadata": {"order": "A-1042"},
            "created_at": "2026-12-01T10:00:00.000Z",
            "updated_at": "2026-12-01T10:00:04.210Z",
            "timings": {"queued_ms": 40, "provider_ms": 3900, "total_ms": 4210},
            "expires_at": {"inputs": "2026-12-02T10:00:04.210Z", "outputs": "2026-12-31T10:00:04.210Z"},
            "urls": EXAMPLE_LINKS,
        }
    )

    id: str
    status: JobStatus
    provider: str
    provider_job_id: str | None
    outputs: list[Output]
    error: JobError | None
    metadata: dict[str, Any] | None
    created_at: Timestamp
    updated_at: Timestamp
    timings: Timings | None = None
    correlation_id: str | None = None
    batch_id: str | None = Field(None, description="The batch the job belongs to, if any.")
    urls: Links | None = None
    expires_at: ExpiresAt | None = None
    deleted_at: Timestamp | None = Field(None, description="Set once deleted on request.")


class JobList(Answer):
    jobs: list[Job]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
