"""The native API's requests and answers as pydantic v2 models: the one definition of the wire contract.

The api handler's resolver validates bodies and query strings against them (`enable_validation=True`), the
domain parses job requests from any surface with `JobRequestBody` (jobs/validation.py), and
`component_schemas()` is the `components.schemas` of GET /v1/openapi.json (api_spec.py).
`request_error` turns pydantic's errors into our `{"error": {code, message, field}}` envelope.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .jobs.exceptions import RequestInvalidError
from .jobs.models import JOB_ERROR_CODES, BatchStatus, JobStatus
from .jobs.validation import (
    MAX_FACES,
    MAX_IMAGE_FIELD_CHARS,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_WAIT_SECONDS,
    has_lone_surrogate,
    json_depth,
)

UPLOAD_TYPES = ("image/jpeg", "image/png", "image/webp")

_IMAGE_DOC = (
    "An https URL, a `data:image/...;base64,` URI, or an upload ref (`upload:<id>/<name>`) or download_url "
    "from POST /v1/uploads."
)
EXAMPLE_SOURCE = "https://images.example.com/face.jpg"
EXAMPLE_TARGET = "https://images.example.com/photo.jpg"


EXAMPLE_JOB_ID = "01JD3Q8Z6Y1T9V2C4B7N5M0K8H"
EXAMPLE_LINKS = {"get": f"/v1/jobs/{EXAMPLE_JOB_ID}", "cancel": f"/v1/jobs/{EXAMPLE_JOB_ID}/cancel"}


def examples(*values: dict[str, Any]) -> ConfigDict:
    """A model's documented examples (its schema's `examples`, shown by Swagger UI)."""
    return ConfigDict(json_schema_extra={"examples": list(values)})


class _Strict(BaseModel):
    """A request: no unknown fields, no coercion (`"true"` is not a boolean, `true` is not an integer)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class _Answer(BaseModel):
    """An answer's shape, for the document (answers are built by the domain's views): its validator is built
    only if one is ever needed, not at the cold start."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


def _image_ref(value: str | None, info: ValidationInfo) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise PydanticCustomError("invalid_request", "must be an https URL, a data: URI or an upload ref")
    if len(value) > MAX_IMAGE_FIELD_CHARS:
        raise PydanticCustomError("image_too_large", "is larger than the 20 MB image cap")
    return value.strip()


ImageRef = Annotated[str, Field(description=_IMAGE_DOC, min_length=1)]
FaceIndex = Annotated[int, Field(ge=0, le=MAX_FACES - 1)]


# ---- requests ------------------------------------------------------------------------------------------


class Face(_Strict):
    """One face to replace: this source's face onto the target's face number `target_face`."""

    source_image: ImageRef
    target_face: FaceIndex = Field(description="Which face of the target; faces are numbered left to right.")

    _images = field_validator("source_image")(_image_ref)


class JobRequestBody(_Strict):
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
    source_image: ImageRef | None = None
    target_image: ImageRef
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

    _images = field_validator("source_image", "target_image")(_image_ref)

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


class BatchRequest(_Strict):
    """Up to SWAPFLOW_MAX_BATCH_JOBS (1,000) job requests, judged all at once by the batch service."""

    model_config = examples(
        {
            "defaults": {"target_image": EXAMPLE_TARGET, "output_format": "png"},
            "jobs": [{"source_image": EXAMPLE_SOURCE}, {"source_image": EXAMPLE_SOURCE, "target_index": 1}],
        }
    )

    jobs: list[dict[str, Any]] = Field(
        min_length=1, max_length=1000, description="Job requests, each as the body of POST /v1/jobs."
    )
    defaults: dict[str, Any] = Field(
        default_factory=dict, description="Fields every job request gets unless it sets them."
    )


class ManifestBatchRequest(_Strict):
    manifest: str = Field(
        description="A JSONL file (one job request per line, up to 100,000) in the input bucket under "
        "uploads/<your tenant>/: `s3://<bucket>/<key>` or the key. Its jobs are registered (listed `queued`) by "
        "the batch's runner, then run; a line that is not a valid request fails alone.",
        examples=["uploads/acme/01JBATCH0000000000000000/jobs.jsonl"],
    )


class UploadRequest(_Strict):
    """The image to upload; the content type and size are judged by the upload service (415, 413)."""

    model_config = examples({"filename": "face.jpg", "content_type": "image/jpeg", "size": 48213})

    filename: str
    content_type: str = Field(json_schema_extra={"enum": list(UPLOAD_TYPES)})
    size: int = Field(ge=1, description="The file's length in bytes.")

    @field_validator("content_type", mode="wrap")
    @classmethod
    def _a_media_type(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValueError:
            raise PydanticCustomError(
                "unsupported_media_type", "must be one of: {types}", {"types": ", ".join(UPLOAD_TYPES)}
            ) from None


# ---- answers -------------------------------------------------------------------------------------------

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Links(_Answer):
    get: str
    cancel: str


class Accepted(_Answer):
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


class Output(_Answer):
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


class JobError(_Answer):
    code: Literal[tuple(sorted(JOB_ERROR_CODES))]  # type: ignore[valid-type]
    message: str
    provider_code: str | None = None


class Timings(_Answer):
    queued_ms: int | None = None
    provider_ms: int | None = None
    total_ms: int | None = None


class ExpiresAt(_Answer):
    """When retention deletes the job's inputs and outputs (null: not ended yet, or kept)."""

    inputs: Timestamp | None = None
    outputs: Timestamp | None = None


class Job(_Answer):
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


class JobList(_Answer):
    jobs: list[Job]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class BatchCounts(_Answer):
    queued: int = 0
    processing: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    total: int = 0


class BatchJob(_Answer):
    index: int
    id: str
    status: JobStatus
    outputs: list[dict[str, Any]] = Field(default_factory=list)
    error: dict[str, Any] | None = None


class BatchLinks(_Answer):
    get: str
    cancel: str | None = None


class ManifestResult(_Answer):
    bucket: str
    key: str = Field(description="Where the manifest's result file (one line per job) is written.")


class Batch(_Answer):
    """A batch: its counts over every job, and (GET) one page of its jobs."""

    id: str
    status: BatchStatus | Literal["cancelled"]
    counts: BatchCounts
    created_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    urls: BatchLinks
    manifest: dict[str, Any] | None = None
    result: ManifestResult | None = None
    jobs: list[BatchJob] | None = None
    next_token: str | None = Field(
        None, description="Pass as `next_token` for the next page of `jobs`; null on the last page."
    )


class UploadTarget(_Answer):
    """PUT the bytes here with exactly these headers (no API key)."""

    method: Literal["PUT"]
    url: str
    headers: dict[str, str]


class Upload(_Answer):
    id: str
    upload: UploadTarget
    image_ref: str = Field(description="Use as an image input of a job.")
    download_url: str
    expires_at: Timestamp | None = None


class ErrorDetail(_Answer):
    code: str
    message: str
    field: str | None = Field(None, description="The request field (or header) at fault.")
    errors: list[dict[str, str]] | None = Field(
        None, description="POST /v1/batches: every problem found, as {path, message}."
    )


class Error(_Answer):
    """Every error answer: `{"error": {code, message, field?}}`."""

    error: ErrorDetail


REQUESTS: tuple[type[BaseModel], ...] = (JobRequestBody, BatchRequest, ManifestBatchRequest, UploadRequest)
ANSWERS: tuple[type[BaseModel], ...] = (Accepted, Job, JobList, Batch, Upload, Error)


def component_schemas(error_codes: Sequence[str]) -> dict[str, Any]:
    """`components.schemas` of the OpenAPI document, generated from the models (requests as validated,
    answers as serialized); `Error.error.code` lists `error_codes`."""
    from pydantic.json_schema import models_json_schema

    _, top = models_json_schema(
        [(model, "validation") for model in REQUESTS] + [(model, "serialization") for model in ANSWERS],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = top["$defs"]
    schemas["ErrorDetail"]["properties"]["code"]["enum"] = list(error_codes)
    return schemas


# ---- pydantic's errors -> our envelope ----------------------------------------------------------------

_LOCATIONS = ("body", "query", "path", "header", "cookie")


def _field(loc: Iterable[Any]) -> str | None:
    """("body", "faces", 0, "source_image") -> "faces[0].source_image" (the location's kind dropped)."""
    parts = list(loc)
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path or None


def request_error(errors: Sequence[Mapping[str, Any]], codes: Iterable[str]) -> RequestInvalidError:
    """The first of pydantic's errors as our RequestInvalidError: unknown fields first (as before the models),
    a custom error's type is its code when it is one of `codes`, everything else `invalid_request`."""
    known = set(codes)
    ordered = sorted(errors, key=lambda e: e.get("type") != "extra_forbidden")
    first = ordered[0]
    field = _field(first.get("loc", ()))
    kind = str(first.get("type", ""))
    if kind == "extra_forbidden":
        unknown = sorted(f for e in ordered if e.get("type") == "extra_forbidden" if (f := _field(e["loc"])))
        return RequestInvalidError("invalid_request", f"unknown field(s): {', '.join(unknown)}", field)
    if kind == "missing" and field is None and first.get("input") is None:
        return RequestInvalidError("invalid_json", "the request body is empty; send a JSON object")
    if kind in ("model_type", "model_attributes_type", "dict_type") and field is None:
        return RequestInvalidError("invalid_request", "the request body must be a JSON object")
    if kind == "source_required":  # the model-level check: source_image or faces
        return RequestInvalidError("invalid_request", str(first["msg"]), "source_image")
    message = str(first.get("msg", "invalid value"))
    return RequestInvalidError(
        kind if kind in known else "invalid_request", f"{field}: {message}" if field else message, field
    )
