"""Turning image references (URL, data: URI, s3:// in our input bucket, uploads) into checked, stored inputs.

Everything wrong with an input is found here, at submit time, and refused with a 4xx naming the field.
Uploads (`upload:<id>/<filename>` refs, our own presigned input-bucket URLs, see jobs/uploads.py, and
`s3://<input bucket>/<key>` refs) are read from S3 directly, never fetched over HTTP, and only inside the
calling tenant's prefix (`uploads/<tenant>/`) or a manifest's own folder (DESIGN 7): another tenant's
object and a missing one get the same answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import uploads
from .exceptions import BlobMissingError, OutputRefusedError, RequestInvalidError
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
        fetch: Callable[[str, FetchPolicy], bytes] | None = None,
        callback_policy: FetchPolicy | None = None,
    ) -> None:
        self.blobs = blobs
        self.callback_policy = callback_policy or policy  # `webhook_url`s: the client-webhook sender's rules
        self._fetch = fetch  # a test seam; None: net.fetch, the one URL fetcher
        self.input_bucket = input_bucket
        self.policy = policy
        self.max_pixels = max_pixels
        self.max_bytes = max_bytes
        self.aws_endpoint = aws_endpoint  # local mode: presigned URLs point here

    def stored_key(self, ref: str, field: str, tenant: str | None, scopes: tuple[str, ...] = ()) -> str | None:
        """The input-bucket key an upload ref, one of our own storage URLs or an `s3://` ref names; None for
        other refs. Only keys under the caller's prefixes (its uploads, plus `scopes`: a manifest's folder)
        are readable; any other key is refused exactly like a missing one, so existence cannot be probed."""
        if ref.startswith(uploads.REF_PREFIX):
            key = uploads.key_for_ref(ref, tenant or "")
            if key is None or tenant is None:
                raise RequestInvalidError("invalid_request", f"{field}: not a valid upload ref", field)
            return key
        if ref.startswith("s3://"):
            bucket, _, key = ref[5:].partition("/")
            key = key if bucket == self.input_bucket else ""
        else:
            found = uploads.own_object(ref, self.input_bucket, self.aws_endpoint)
            if found is None:
                return None
            key = found
        allowed = (*((uploads.tenant_prefix(tenant),) if tenant else ()), *scopes)
        if not key or ".." in key.split("/") or not key.startswith(allowed):
            raise self._not_found(field)
        return key

    @staticmethod
    def _not_found(field: str) -> RequestInvalidError:
        """The one answer for a missing object and for one outside the caller's prefixes."""
        return RequestInvalidError(
            "upload_not_found", f"{field}: no such object among yours (never uploaded, expired, or not yours)", field
        )

    def _too_large(self, field: str) -> RequestInvalidError:
        return RequestInvalidError(
            "image_too_large", f"{field}: the upload is larger than {self.max_bytes} bytes", field
        )

    def stored_size(self, key: str, field: str) -> int:
        """The object's size (a HEAD), refused like a missing object when it is not there."""
        try:
            size = self.blobs.size(self.input_bucket, key)
        except BlobMissingError as exc:
            raise self._not_found(field) from exc
        if size > self.max_bytes:
            raise self._too_large(field)
        return size

    def _read_upload(self, key: str, field: str) -> bytes:
        """One ranged GET of at most the cap and a byte more: a bigger upload is refused without being
        read whole (and without a HEAD first)."""
        try:
            data = self.blobs.get_range(self.input_bucket, key, 0, self.max_bytes + 1)
        except BlobMissingError as exc:
            raise self._not_found(field) from exc
        if len(data) > self.max_bytes:
            raise self._too_large(field)
        return data

    def check_callback_url(self, url: str, field: str) -> None:
        """A URL we will call later (`webhook_url`): the image URLs' SSRF guard now, and again on every call."""
        from .. import net

        try:
            net.check_url(url, self.callback_policy)
        except net.FetchError as exc:
            raise RequestInvalidError(exc.code, f"{field}: {exc.message}", field) from exc

    def load(self, ref: str, field: str, tenant: str | None = None, scopes: tuple[str, ...] = ()) -> bytes:
        from .. import images, net

        try:
            key = self.stored_key(ref, field, tenant, scopes)
            if key is not None:
                return self._read_upload(key, field)
            if ref.startswith("data:"):
                data, _ = images.parse_data_uri(ref, max_bytes=self.max_bytes)
                return data
            if ref.startswith(("https://", "http://")):
                return self.fetch_url(ref)
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

    def store(
        self,
        ref: str,
        field: str,
        key_stem: str,
        tenant: str | None = None,
        scopes: tuple[str, ...] = (),
        *,
        by_content: bool = False,
    ) -> StoredImage:
        """Check and store an input. `by_content`: keyed by its sha256 under `key_stem` and put only once,
        so the jobs of a batch that share an image share one stored copy (one S3 PUT, not one a job)."""
        data = self.load(ref, field, tenant, scopes)
        info = self.check(data, field)
        digest = hashlib.sha256(data).hexdigest()
        key = f"{key_stem}/{digest}.{info.format}" if by_content else f"{key_stem}.{info.format}"
        stored = StoredImage(self.input_bucket, key, info.content_type, info.width, info.height, digest)
        if not (by_content and self._stored(key)):
            self.blobs.put(self.input_bucket, key, data, info.content_type)
        return stored

    def _stored(self, key: str) -> bool:
        try:
            self.blobs.size(self.input_bucket, key)
        except BlobMissingError:
            return False
        return True

    def fetch_url(self, url: str) -> bytes:
        """A URL's body through the SSRF guard; raises net.FetchError."""
        from .. import net

        return self._fetch(url, self.policy) if self._fetch else net.fetch(url, self.policy).data

    def fetch_output(self, url: str) -> bytes:
        """Provider outputs come from the provider's CDN: fetched through the same SSRF guard. A URL the
        guard refuses, or one over the byte cap, will never work: OutputRefusedError (not retried)."""
        from .. import net

        try:
            return self.fetch_url(url)
        except net.FetchError as exc:
            if exc.code in ("url_not_allowed", "too_large"):
                raise OutputRefusedError(f"output_{exc.code}", exc.message) from exc
            raise

    def sniff(self, data: bytes) -> ImageInfo:
        """What a provider output is; one that is no image within the caps is OutputRefusedError."""
        from .. import images

        try:
            return images.sniff(data, max_pixels=self.max_pixels, max_bytes=self.max_bytes)
        except images.ImageError as exc:
            raise OutputRefusedError(f"output_{exc.code}", exc.message) from exc
