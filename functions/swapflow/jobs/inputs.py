"""Turning image references (URL, data: URI, s3:// in our input bucket) into checked, stored inputs.

Everything wrong with an input is found here, at submit time, and refused with a 4xx naming the field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .exceptions import RequestInvalidError
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
    ) -> None:
        self.blobs = blobs
        self.input_bucket = input_bucket
        self.policy = policy
        self.max_pixels = max_pixels
        self.max_bytes = max_bytes

    def load(self, ref: str, field: str) -> bytes:
        from .. import images, net

        try:
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

    def store(self, ref: str, field: str, key_stem: str) -> StoredImage:
        data = self.load(ref, field)
        info = self.check(data, field)
        key = f"{key_stem}.{info.format}"
        self.blobs.put(self.input_bucket, key, data, info.content_type)
        return StoredImage(self.input_bucket, key, info.content_type, info.width, info.height)

    def fetch_output(self, url: str) -> bytes:
        """Provider outputs come from the provider's CDN: fetched through the same SSRF guard."""
        from .. import net

        return net.fetch(url, self.policy).data

    def sniff(self, data: bytes) -> ImageInfo:
        from .. import images

        return images.sniff(data, max_pixels=self.max_pixels, max_bytes=self.max_bytes)
