"""Uploads: a presigned S3 PUT into the input bucket, and the image ref that names the object afterwards.

Shared by the native API (`POST /v1/uploads`) and the drop-in surfaces (WaveSpeed's `media/uploads` and
`media/upload/binary`). Objects live under `uploads/<tenant>/<upload id>/<filename>`, so the tenant is part
of every key: a ref or URL is only ever resolved inside the caller's own prefix.

Two ways to name an upload as a job input, both read from S3 directly, never over HTTP:
- the ref `upload:<upload id>/<filename>` (what `POST /v1/uploads` returns as `image_ref`);
- one of our own presigned URLs of the input bucket (virtual-host or path style, any AWS S3 host, or the
  local endpoint), which is what WaveSpeed clients pass on as `download_url`.

The size declared at upload time is only a promise (a presigned PUT cannot cap the body): the object's real
size and content are checked again when a job reads it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from ..images import EXTENSIONS
from .exceptions import RequestInvalidError
from .models import new_job_id

REF_PREFIX = "upload:"
KEY_PREFIX = "uploads"
DEFAULT_EXPIRES = 3600
_FILENAME_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_S3_HOST = re.compile(r"^(?:(?P<bucket>.+)\.)?s3(?:[.-](?:[a-z0-9-]+))*\.amazonaws\.com(?:\.cn)?$")


class UploadSigner(Protocol):
    def presign_put(self, bucket: str, key: str, content_type: str, expires: int) -> str: ...

    def presign_get(self, bucket: str, key: str, expires: int) -> str: ...


@dataclass(frozen=True)
class Upload:
    id: str
    key: str
    filename: str
    content_type: str
    size: int
    url: str  # presigned PUT
    headers: dict[str, str]
    image_ref: str
    download_url: str  # presigned GET of the same object (what WaveSpeed clients pass on as an input)
    expires_at: float

    def native_view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "upload": {"method": "PUT", "url": self.url, "headers": self.headers},
            "image_ref": self.image_ref,
            "download_url": self.download_url,
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.expires_at)),
        }


def safe_filename(filename: Any, content_type: str) -> str:
    """A filename that is one safe S3 key segment; the extension follows the declared type."""
    name = filename if isinstance(filename, str) else ""
    name = _FILENAME_SAFE.sub("-", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip(".-")[:100]
    stem = (name.rsplit(".", 1)[0] if "." in name else name).strip(".-")
    return f"{stem or 'image'}.{EXTENSIONS[content_type]}"


def upload_key(tenant: str, upload_id: str, filename: str) -> str:
    return f"{KEY_PREFIX}/{tenant}/{upload_id}/{filename}"


def tenant_prefix(tenant: str) -> str:
    return f"{KEY_PREFIX}/{tenant}/"


def key_for_ref(ref: str, tenant: str) -> str | None:
    """`upload:<id>/<filename>` -> the object key under this tenant's prefix; None if malformed."""
    if not ref.startswith(REF_PREFIX):
        return None
    upload_id, _, filename = ref[len(REF_PREFIX) :].partition("/")
    ok = re.fullmatch(r"[0-9A-Za-z]{10,40}", upload_id) and filename and not _FILENAME_SAFE.search(filename)
    if not ok or filename.startswith("."):
        return None
    return upload_key(tenant, upload_id, filename)


def own_object(url: str, bucket: str, endpoint: str = "") -> str | None:
    """The key, if `url` points at an object of `bucket` (S3 virtual-host or path style, or `endpoint`)."""
    if not bucket or not url.startswith(("https://", "http://")):
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path
    endpoint_host = urlsplit(endpoint).netloc.lower() if endpoint else ""
    if endpoint_host and parts.netloc.lower() == endpoint_host:
        found_bucket, _, key = path.lstrip("/").partition("/")
    elif endpoint_host and parts.netloc.lower().endswith("." + endpoint_host):
        found_bucket, key = parts.netloc.lower()[: -len(endpoint_host) - 1], path.lstrip("/")
    else:
        match = _S3_HOST.match(host)
        if not match:
            return None
        if match.group("bucket"):
            found_bucket, key = match.group("bucket"), path.lstrip("/")
        else:
            found_bucket, _, key = path.lstrip("/").partition("/")
    if found_bucket != bucket or not key:
        return None
    return unquote(key)


@dataclass(eq=False)
class UploadService:
    """Issue presigned PUTs for images, each under the tenant's own prefix."""

    signer: UploadSigner
    _: KW_ONLY
    bucket: str
    max_bytes: int
    expires: int = DEFAULT_EXPIRES
    download_expires: int = 7 * 24 * 3600
    clock: Callable[[], float] = time.time

    def check(self, filename: Any, content_type: Any, size: Any) -> tuple[str, str, int]:
        """(safe filename, content type, size) or RequestInvalidError naming the field."""
        ctype = content_type.split(";", 1)[0].strip().lower() if isinstance(content_type, str) else None
        if ctype == "image/jpg":
            ctype = "image/jpeg"
        if ctype not in EXTENSIONS:
            raise RequestInvalidError(
                "unsupported_media_type",
                f"content_type must be one of: {', '.join(EXTENSIONS)}",
                "content_type",
            )
        if not isinstance(filename, str) or not filename.strip():
            raise RequestInvalidError("invalid_request", "filename is required", "filename")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise RequestInvalidError("invalid_request", "size must be the file's length in bytes", "size")
        if size > self.max_bytes:
            raise RequestInvalidError(
                "image_too_large", f"size must be at most {self.max_bytes} bytes (the image cap)", "size"
            )
        return safe_filename(filename, ctype), ctype, size

    def create(self, tenant: str, filename: Any, content_type: Any, size: Any) -> Upload:
        name, ctype, length = self.check(filename, content_type, size)
        upload_id = new_job_id(self.clock())
        key = upload_key(tenant, upload_id, name)
        return Upload(
            id=upload_id,
            key=key,
            filename=name,
            content_type=ctype,
            size=length,
            url=self.signer.presign_put(self.bucket, key, ctype, self.expires),
            headers={"Content-Type": ctype},
            image_ref=f"{REF_PREFIX}{upload_id}/{name}",
            download_url=self.signer.presign_get(self.bucket, key, self.download_expires),
            expires_at=self.clock() + self.expires,
        )

    def stored(self, tenant: str, filename: Any, content_type: str) -> tuple[str, str]:
        """(key, image ref) for bytes the API received itself (WaveSpeed's `media/upload/binary`)."""
        upload_id = new_job_id(self.clock())
        name = safe_filename(filename, content_type)
        return upload_key(tenant, upload_id, name), f"{REF_PREFIX}{upload_id}/{name}"
