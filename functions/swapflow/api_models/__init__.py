"""The native API's requests and answers as pydantic v2 models: the one definition of the wire contract.

The api handler's resolver validates bodies and query strings against them (`enable_validation=True`), the
domain parses job requests from any surface with `JobRequestBody` (jobs/validation.py), and
`component_schemas()` is the `components.schemas` of GET /v1/openapi.json (api_spec.py).
`errors.request_error` turns pydantic's errors into our `{"error": {code, message, field}}` envelope.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from .batches import Batch, BatchRequest, ManifestBatchRequest
from .errors import Error, request_error
from .jobs import Accepted, Job, JobList, JobRequestBody
from .uploads import Upload, UploadRequest

__all__ = [
    "ANSWERS",
    "REQUESTS",
    "Accepted",
    "Batch",
    "BatchRequest",
    "Error",
    "Job",
    "JobList",
    "JobRequestBody",
    "ManifestBatchRequest",
    "Upload",
    "UploadRequest",
    "component_schemas",
    "request_error",
]

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
