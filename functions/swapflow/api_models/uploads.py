"""POST /v1/uploads: a presigned PUT for an input image."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidatorFunctionWrapHandler, field_validator
from pydantic_core import PydanticCustomError

from ..images import EXTENSIONS
from .common import Answer, Strict, Timestamp, examples

UPLOAD_TYPES = tuple(EXTENSIONS)  # what POST /v1/uploads takes: the image types the service stores


class UploadRequest(Strict):
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


class UploadTarget(Answer):
    """PUT the bytes here with exactly these headers (no API key)."""

    method: Literal["PUT"]
    url: str
    headers: dict[str, str]


class Upload(Answer):
    id: str
    upload: UploadTarget
    image_ref: str = Field(description="Use as an image input of a job.")
    download_url: str
    expires_at: Timestamp | None = None
