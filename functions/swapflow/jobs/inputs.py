"""Turning image references (URL, data: URI, s3:// in our input bucket, uploads) into checked, stored inputs.

Everything wrong with an input is found here, at submit time, and refused with a 4xx naming the field.
Uploads (`upload:<id>/<filename>` refs and our own presigned input-bucket URLs, see jobs/uploads.py) are
read from S3 directly, only inside the calling tenant's prefix, and never fetched over HTTP.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from . import uploads
from .exceptions import BlobMissingError, RequestInvalidError
from .models import StoredImage
from .ports import BlobStore

if TYPE_CHECKING:
    from ..images import ImageInfo
    from ..net import FetchPolicy


class InputLoader:
    def __init__(
        self,
        blobs: BlobStore,
        *,
        input_bucket: str,
        policy: FetchPolicy,
        max_pixels: int,
        max_bytes: int,
        aws_endpoint: str = "",
    ) -> None:
        self.blobs = blobs
        self.input_bucket = input_bucket
        self.policy = policy
        self.max_pixels = max_pixels
        self.max_bytes = max_bytes
        self.aws_endpoint = aws_endpoint  # local mode: presigned URLs point here

    def upload_key(self, ref: str, field: str, tenant: str | None) -> str | None:
        """The input-bucket key an upload ref or one of our own presigned URLs names; None for other refs."""
        if ref.startswith(uploads.REF_PREFIX):
            key = uploads.key_for_ref(ref, tenant or "")
            if key is None or tenant is None:
                raise RequestInvalidError("invalid_request", f"{field}: not a valid upload ref", field)
            return key
        key = uploads.own_object(ref, self.input_bucket, self.aws_endpoint)
        if key is None:
            return None
        if tenant is None or not key.startswith(uploads.tenant_prefix(tenant)):
            raise RequestInvalidError("url_not_allowed", f"{field}: this storage URL is not one of your uploads", field)
        return key

    def _read_upload(self, key: str, field: str) -> bytes:
        try:
            size = self.blobs.size(self.input_bucket, key)
            if size > self.max_bytes:
                raise RequestInvalidError(
                    "image_too_large", f"{field}: the upload is larger than {self.max_bytes} bytes", field
                )
            return self.blobs.get(self.input_bucket, key)
        except BlobMissingError as exc:
            raise RequestInvalidError(
                "upload_not_found", f"{field}: nothing was uploaded there (yet), or it expired", field
            ) from exc

    def check_callback_url(self, url: str, field: str) -> None:
        """A URL we will call later (`webhook_url`): the image URLs' SSRF guard now, and again on every call."""
        from .. import net

        try:
            net.check_url(url, self.policy)
        except net.FetchError as exc:
            raise RequestInvalidError(exc.code, f"{field}: {exc.message}", field) from exc

    def load(self, ref: str, field: str, tenant: str | None = None) -> bytes:
        from .. import images, net

        try:
            key = self.upload_key(ref, field, tenant)
            if key is not None:
                return self._read_upload(key, field)
            if ref.startswith("data:"):
                data, _ = images.parse_data_uri(ref, max_bytes=self.max_bytes)
                return data
            if ref.startswith("s3://"):
                bucket, _, key = ref[5:].partition("/")
                if bucket != self.input_bucket or not key:
                    raise RequestInvalidError(
                        "url_not_allowed", f"{field}: only objects in the input bucket can be read", field
                    )
                return self.blobs.get(bucket, key)
            if ref.startswith(("https://", "http://")):
                return net.fetch(ref, self.policy).data
        except net.FetchError as exc:
            code = "image_too_large" if exc.code == "too_large" else exc.code
            raise RequestInvalidError(code, f"{field}: {exc.message}", field) from exc
        except images.ImageError as exc:
            raise RequestInvalidError(exc.code, f"{field}: {exc.message}", field) from exc
        raise RequestInvalidError(
            "invalid_request", f"{field} must be an https URL, a data: URI or an upload ref", field
        )

    def check(self, data: bytes, field: str) -> ImageInfo:
        from .. import images

        try:
            return images.verify(data, max_pixels=self.max_pixels, max_bytes=self.max_bytes)
        except images.ImageError as exc:
            raise RequestInvalidError(exc.code, f"{field}: {exc.message}", field) from exc

    def store(self, ref: str, field: str, key_stem: str, tenant: str | None = None) -> StoredImage:
        data = self.load(ref, field, tenant)
        info = self.check(data, field)
        key = f"{key_stem}.{info.format}"
        self.blobs.put(self.input_bucket, key, data, info.content_type)
        digest = hashlib.sha256(data).hexdigest()
        return StoredImage(self.input_bucket, key, info.content_type, info.width, info.height, digest)

    def fetch_output(self, url: str) -> bytes:
        """Provider outputs come from the provider's CDN: fetched through the same SSRF guard."""
        from .. import net

        return net.fetch(url, self.policy).data

    def sniff(self, data: bytes) -> ImageInfo:
        from .. import images

        return images.sniff(data, max_pixels=self.max_pixels, max_bytes=self.max_bytes)
