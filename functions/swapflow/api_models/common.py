"""What every model of the native API shares: strict requests, deferred answers, image inputs, examples."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from ..jobs.validation import MAX_FACES, MAX_IMAGE_FIELD_CHARS

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


class Strict(BaseModel):
    """A request: no unknown fields, no coercion (`"true"` is not a boolean, `true` is not an integer)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Answer(BaseModel):
    """An answer's shape, for the document (answers are built by the domain's views): its validator is built
    only if one is ever needed, not at the cold start."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


def image_ref(value: str | None, info: ValidationInfo) -> str | None:
    """An image input stripped; blank is `invalid_request`, over the cap `image_too_large` (its own code)."""
    if value is None:
        return None
    if not value.strip():
        raise PydanticCustomError("invalid_request", "must be an https URL, a data: URI or an upload ref")
    if len(value) > MAX_IMAGE_FIELD_CHARS:
        raise PydanticCustomError("image_too_large", "is larger than the 20 MB image cap")
    return value.strip()


ImageInput = Annotated[str, Field(description=_IMAGE_DOC, min_length=1)]
FaceIndex = Annotated[int, Field(ge=0, le=MAX_FACES - 1)]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
