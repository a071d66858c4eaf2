"""S3 blobs: inputs, engine staging and the output archive (SSE on every object)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..jobs.exceptions import BlobDeleteError, BlobMissingError

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


class S3BlobStore:
    def __init__(self, client: Any, *, presign_client: Any | None = None) -> None:
        self.client = client
        # Locally the presigning client points at the local AWS endpoint so URLs are fetchable.
        self.presign_client = presign_client or client

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=bucket, Key=key, Body=data, ContentType=content_type, ServerSideEncryption="AES256"
        )

    def get(self, bucket: str, key: str) -> bytes:
        try:
            body: bytes = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise BlobMissingError(bucket, key) from exc
            raise
        return body

    def get_range(self, bucket: str, key: str, start: int, length: int) -> bytes:
        """Bytes [start, start + length) of an object (fewer at its end): big manifests are read in parts."""
        try:
            answer = self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{start + length - 1}")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise BlobMissingError(bucket, key) from exc
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""
            raise
        body: bytes = answer["Body"].read()
        return body

    def size(self, bucket: str, key: str) -> int:
        try:
            return int(self.client.head_object(Bucket=bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise BlobMissingError(bucket, key) from exc
            raise

    def copy(self, src_bucket: str, src_key: str, bucket: str, key: str) -> None:
        self.client.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": src_bucket, "Key": src_key},
            ServerSideEncryption="AES256",
        )

    def presign_get(self, bucket: str, key: str, expires: int) -> str:
        url: str = self.presign_client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=min(expires, 7 * 24 * 3600)
        )
        return url

    def presign_put(self, bucket: str, key: str, content_type: str, expires: int) -> str:
        """A PUT the client sends with exactly `Content-Type: content_type` (signed); SSE is the bucket default."""
        url: str = self.presign_client.generate_presigned_url(
            "put_object",
            Params={"Bucket": bucket, "Key": key, "ContentType": content_type},
            ExpiresIn=min(expires, 7 * 24 * 3600),
        )
        return url

    def delete_all_versions(self, bucket: str, prefix: str) -> int:
        """Every version and delete marker under `prefix`, in batches of 1,000 (the DeleteObjects cap)."""
        deleted = 0
        for page in self.client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            doomed = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
            for start in range(0, len(doomed), 1000):
                answer = self.client.delete_objects(
                    Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True}
                )
                if answer.get("Errors"):
                    raise BlobDeleteError(bucket, prefix, answer["Errors"])
                deleted += len(doomed[start : start + 1000])
        return deleted
