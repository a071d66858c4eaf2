"""In-memory fakes of the blob store and event publisher ports."""

from __future__ import annotations

from typing import Any

from swapflow.jobs.exceptions import BlobMissingError


class FakeBlobs:
    """In-memory S3: presigning is string formatting (S3-shaped URLs); reads come from a dict."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        self.objects[(bucket, key)] = data

    def get(self, bucket: str, key: str) -> bytes:
        if (bucket, key) not in self.objects:
            raise BlobMissingError(bucket, key)
        return self.objects[(bucket, key)]

    def get_range(self, bucket: str, key: str, start: int, length: int) -> bytes:
        return self.get(bucket, key)[start : start + length]

    def size(self, bucket: str, key: str) -> int:
        return len(self.get(bucket, key))

    def copy(self, src_bucket: str, src_key: str, bucket: str, key: str) -> None:
        self.objects[(bucket, key)] = self.get(src_bucket, src_key)

    def presign_get(self, bucket: str, key: str, expires: int) -> str:
        return f"https://s3.us-east-1.amazonaws.com/{bucket}/{key}?X-Amz-Expires={expires}&X-Amz-Signature=get"

    def presign_put(self, bucket: str, key: str, content_type: str, expires: int) -> str:
        return f"https://s3.us-east-1.amazonaws.com/{bucket}/{key}?X-Amz-Expires={expires}&X-Amz-Signature=put"


class FakeEvents:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.published.append((detail_type, detail))
