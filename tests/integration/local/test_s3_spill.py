"""P11: S3 objects over moto's buffer live in named files: every byte comes back, and no descriptor stays open."""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local.patches import s3_spill
from infra.local.patches.s3_spill import SpilledBuffer
from tests.integration.local.helpers import embedded_aws

pytestmark = pytest.mark.xdist_group("s3_spill")


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[Any]:
    with embedded_aws(tmp_path, MOTO_S3_DEFAULT_KEY_BUFFER_SIZE=str(16 * 1024)):
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="spill")
        yield client


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_GIVEN_objects_small_and_large_WHEN_put_and_read_back_THEN_bytes_etag_and_ranges_are_as_stored(s3: Any) -> None:
    for size in (0, 100, 16 * 1024, 16 * 1024 + 1, 300_000, 3_000_000):
        body = random.randbytes(size)
        key = f"k-{size}-{uuid.uuid4().hex[:6]}"
        put = s3.put_object(Bucket="spill", Key=key, Body=body)

        assert s3.get_object(Bucket="spill", Key=key)["Body"].read() == body
        assert put["ETag"].strip('"') == hashlib.md5(body).hexdigest()
        if size > 10:
            ranged = s3.get_object(Bucket="spill", Key=key, Range="bytes=5-9")["Body"].read()
            assert ranged == body[5:10]
        copied = f"{key}-copy"
        s3.copy_object(Bucket="spill", Key=copied, CopySource={"Bucket": "spill", "Key": key})
        assert s3.get_object(Bucket="spill", Key=copied)["Body"].read() == body


def test_GIVEN_300_objects_over_the_buffer_WHEN_stored_THEN_no_descriptor_stays_open_and_deletes_remove_their_files(
    s3: Any,
) -> None:
    before = open_files()
    keys = [f"many/{i}" for i in range(300)]
    for key in keys:
        s3.put_object(Bucket="spill", Key=key, Body=random.randbytes(40_000))
    spilled = len(list(s3_spill.spill_directory().iterdir()))

    assert open_files() - before < 20  # was one descriptor per object: +300
    assert spilled >= 300
    s3.delete_objects(Bucket="spill", Delete={"Objects": [{"Key": key} for key in keys]})
    assert len(list(s3_spill.spill_directory().iterdir())) <= spilled - 300


def test_GIVEN_a_multipart_upload_WHEN_completed_THEN_the_object_is_its_parts_in_order(s3: Any) -> None:
    parts = [random.randbytes(5 * 1024 * 1024), random.randbytes(1234)]
    upload = s3.create_multipart_upload(Bucket="spill", Key="multi")["UploadId"]
    etags = [
        s3.upload_part(Bucket="spill", Key="multi", UploadId=upload, PartNumber=n, Body=part)["ETag"]
        for n, part in enumerate(parts, 1)
    ]
    s3.complete_multipart_upload(
        Bucket="spill",
        Key="multi",
        UploadId=upload,
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)]},
    )

    assert s3.get_object(Bucket="spill", Key="multi")["Body"].read() == b"".join(parts)


def test_GIVEN_random_operations_WHEN_on_a_spilled_buffer_and_a_spooled_file_THEN_both_read_the_same() -> None:
    rng = random.Random(7)
    ours = SpilledBuffer(64)
    with tempfile.SpooledTemporaryFile(64) as theirs:
        compare_random_operations(rng, ours, theirs)
    spilled = ours._path
    ours.close()
    assert spilled is not None and not spilled.exists()


def compare_random_operations(rng: random.Random, ours: SpilledBuffer, theirs: Any) -> None:
    for _ in range(400):
        op = rng.choice(["write", "read", "seek", "truncate"])
        if op == "write":
            data = rng.randbytes(rng.randrange(0, 100))
            assert ours.write(data) == theirs.write(data)
        elif op == "read":
            size = rng.choice([-1, rng.randrange(0, 120)])
            assert ours.read(size) == theirs.read(size)
        elif op == "seek":
            offset = rng.randrange(0, 200)
            assert ours.seek(offset) == theirs.seek(offset)
        else:
            assert ours.truncate() == theirs.truncate()
        assert ours.tell() == theirs.tell()
    ours.seek(0)
    theirs.seek(0)
    assert ours.read() == theirs.read()


def test_GIVEN_a_stopped_stack_WHEN_its_spill_directory_is_looked_for_THEN_it_is_gone(tmp_path: Path) -> None:
    with embedded_aws(tmp_path, MOTO_S3_DEFAULT_KEY_BUFFER_SIZE="1024"):
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="gone")
        client.put_object(Bucket="gone", Key="big", Body=random.randbytes(10_000))
        directory = s3_spill.spill_directory()
        assert any(directory.iterdir())

    assert not directory.exists()
