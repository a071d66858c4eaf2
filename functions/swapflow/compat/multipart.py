"""The image of a WaveSpeed binary upload: a multipart `file` field, or the raw body itself."""

from __future__ import annotations

from collections.abc import Mapping
from email.parser import BytesParser
from email.policy import HTTP

from ..jobs.exceptions import RequestInvalidError


def file_part(headers: Mapping[str, str], raw: bytes, filename: str | None) -> tuple[bytes, str | None, str | None]:
    """(bytes, filename, content type); `headers` lower-cased, `filename` the query's (raw bodies)."""
    content_type = headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return raw, filename, content_type.split(";", 1)[0].strip() or None
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + raw
    )
    parts = [
        p
        for p in message.iter_parts()
        if p.get_filename() or p.get_param("name", header="content-disposition") == "file"
    ]
    if not parts:
        raise RequestInvalidError("invalid_request", "send the image as the multipart field `file`", "file")
    part = parts[0]
    data = part.get_payload(decode=True)
    return (data if isinstance(data, bytes) else b""), part.get_filename(), part.get_content_type()
