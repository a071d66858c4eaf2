"""Uploads: presigned PUT tickets, refs, recognising our own bucket URLs, and reading them per tenant."""

from __future__ import annotations

import pytest
from swapflow.jobs.exceptions import RequestInvalidError
from swapflow.jobs.inputs import InputLoader
from swapflow.jobs.uploads import UploadService, key_for_ref, own_object, safe_filename
from swapflow.net import FetchPolicy

from tests.conftest import FIXTURES
from tests.shared.fakes import FakeBlobs

BUCKET = "swapflow-inputbucket-abc123"
JPEG = (FIXTURES / "source.jpg").read_bytes()


def loader(blobs: FakeBlobs, endpoint: str = "") -> InputLoader:
    return InputLoader(
        blobs,
        input_bucket=BUCKET,
        policy=FetchPolicy(),
        max_pixels=40_000_000,
        max_bytes=1_000_000,
        aws_endpoint=endpoint,
    )


def service(blobs: FakeBlobs) -> UploadService:
    return UploadService(blobs, bucket=BUCKET, max_bytes=1_000_000, clock=lambda: 1_700_000_000.0)


def test_given_an_image_upload_when_created_then_the_ticket_is_a_signed_put_under_the_tenant_prefix() -> None:
    upload = service(FakeBlobs()).create("acme", "../My Photo!.JPG", "image/jpeg", 1234)

    assert upload.key == f"uploads/acme/{upload.id}/My-Photo.jpg"
    assert upload.headers == {"Content-Type": "image/jpeg"}
    assert upload.image_ref == f"upload:{upload.id}/My-Photo.jpg"
    assert "Signature=put" in upload.url and "Signature=get" in upload.download_url
    view = upload.native_view()
    assert view["upload"]["method"] == "PUT" and view["expires_at"] == "2023-11-14T23:13:20Z"
    from swapflow.api_models import Upload as UploadAnswer

    assert UploadAnswer.model_validate(view).image_ref == upload.image_ref  # the documented answer, exactly


@pytest.mark.parametrize(
    ("filename", "content_type", "size", "code", "field"),
    [
        ("a.gif", "image/gif", 10, "unsupported_media_type", "content_type"),
        ("a.txt", None, 10, "unsupported_media_type", "content_type"),
        ("", "image/png", 10, "invalid_request", "filename"),
        ("a.png", "image/png", 0, "invalid_request", "size"),
        ("a.png", "image/png", "10", "invalid_request", "size"),
        ("a.png", "image/png", 1_000_001, "image_too_large", "size"),
    ],
)
def test_given_a_bad_upload_request_when_created_then_it_is_refused_naming_the_field(
    filename, content_type, size, code, field
) -> None:
    with pytest.raises(RequestInvalidError) as info:
        service(FakeBlobs()).create("acme", filename, content_type, size)
    assert (info.value.code, info.value.field) == (code, field)


def test_given_filenames_when_made_safe_then_the_extension_follows_the_declared_type() -> None:
    assert safe_filename("x/y\\z.png", "image/webp") == "z.webp"
    assert safe_filename("...", "image/png") == "image.png"
    assert safe_filename(None, "image/jpeg") == "image.jpg"


@pytest.mark.parametrize(
    ("url", "endpoint", "key"),
    [
        (f"https://{BUCKET}.s3.amazonaws.com/uploads/t/1/a.jpg?X-Amz-Signature=1", "", "uploads/t/1/a.jpg"),
        (f"https://{BUCKET}.s3.eu-west-1.amazonaws.com/uploads/t/1/a%20b.jpg", "", "uploads/t/1/a b.jpg"),
        (f"https://s3.us-east-1.amazonaws.com/{BUCKET}/uploads/t/1/a.jpg", "", "uploads/t/1/a.jpg"),
        (f"https://s3.amazonaws.com/{BUCKET}/uploads/t/1/a.jpg", "", "uploads/t/1/a.jpg"),
        (f"http://127.0.0.1:4566/{BUCKET}/uploads/t/1/a.jpg?x=1", "http://127.0.0.1:4566", "uploads/t/1/a.jpg"),
        (f"http://{BUCKET}.127.0.0.1:4566/uploads/t/1/a.jpg", "http://127.0.0.1:4566", "uploads/t/1/a.jpg"),
        ("https://s3.amazonaws.com/someone-elses-bucket/uploads/t/1/a.jpg", "", None),
        (f"https://example.com/{BUCKET}/uploads/t/1/a.jpg", "", None),
        (f"http://127.0.0.1:9999/{BUCKET}/uploads/t/1/a.jpg", "http://127.0.0.1:4566", None),
        (f"https://s3.amazonaws.com/{BUCKET}/", "", None),
        ("data:image/png;base64,AAAA", "", None),
    ],
)
def test_given_urls_when_checked_then_only_objects_of_our_input_bucket_are_recognised(url, endpoint, key) -> None:
    assert own_object(url, BUCKET, endpoint) == key


def test_given_refs_when_resolved_then_the_key_is_inside_the_callers_prefix() -> None:
    assert (
        key_for_ref("upload:01HX0000000000000000000000/a.jpg", "acme")
        == "uploads/acme/01HX0000000000000000000000/a.jpg"
    )
    assert key_for_ref("upload:01HX0000000000000000000000/../x.jpg", "acme") is None
    assert key_for_ref("upload:short/a.jpg", "acme") is None
    assert key_for_ref("upload:01HX0000000000000000000000/", "acme") is None


def test_given_an_uploaded_object_when_loaded_by_ref_or_url_then_it_is_read_from_storage_not_http() -> None:
    blobs = FakeBlobs()
    upload = service(blobs).create("acme", "a.jpg", "image/jpeg", len(JPEG))
    blobs.put(BUCKET, upload.key, JPEG, "image/jpeg")

    assert loader(blobs).load(upload.image_ref, "source_image", "acme") == JPEG
    assert loader(blobs).load(upload.download_url, "source_image", "acme") == JPEG  # FetchPolicy() refuses http


@pytest.mark.parametrize("use", ["ref", "url"])
def test_given_another_tenants_upload_when_loaded_then_it_is_refused(use) -> None:
    blobs = FakeBlobs()
    upload = service(blobs).create("acme", "a.jpg", "image/jpeg", len(JPEG))
    blobs.put(BUCKET, upload.key, JPEG, "image/jpeg")
    ref = upload.image_ref if use == "ref" else upload.download_url

    with pytest.raises(RequestInvalidError) as info:
        loader(blobs).load(ref, "target_image", "mallory")
    with pytest.raises(RequestInvalidError) as missing:
        loader(FakeBlobs()).load(ref.replace("acme", "mallory"), "target_image", "mallory")

    # Another tenant's object is answered exactly like a missing one: existence cannot be probed.
    assert (info.value.code, info.value.message) == (missing.value.code, missing.value.message)
    assert info.value.code == "upload_not_found" and info.value.field == "target_image"


@pytest.mark.parametrize(
    "key",
    [
        "uploads/acme/01ABCDEFGHJK/a.jpg",  # another tenant's upload
        "inputs/acme/01ABCDEFGHJK/source.jpg",  # another tenant's job input
        "inbox/shoots/a.jpg",  # a manifest folder
        "uploads/mallory/../acme/01ABCDEFGHJK/a.jpg",  # a climb out of one's own prefix
        "uploads/mallory/01ABCDEFGHJK/missing.jpg",  # one's own, but missing
    ],
)
def test_given_s3_refs_outside_the_tenant_prefix_when_loaded_then_all_get_the_missing_answer(key: str) -> None:
    blobs = FakeBlobs()
    for stored in ("uploads/acme/01ABCDEFGHJK/a.jpg", "inputs/acme/01ABCDEFGHJK/source.jpg", "inbox/shoots/a.jpg"):
        blobs.put(BUCKET, stored, JPEG, "image/jpeg")

    with pytest.raises(RequestInvalidError) as info:
        loader(blobs).load(f"s3://{BUCKET}/{key}", "target_image", "mallory")

    assert (info.value.code, info.value.field) == ("upload_not_found", "target_image")
    assert "not yours" in info.value.message


def test_given_an_own_s3_ref_or_a_manifest_scope_when_loaded_then_it_is_read() -> None:
    blobs = FakeBlobs()
    blobs.put(BUCKET, "uploads/mallory/01ABCDEFGHJK/a.jpg", JPEG, "image/jpeg")
    blobs.put(BUCKET, "inbox/shoots/a.jpg", JPEG, "image/jpeg")

    assert loader(blobs).load(f"s3://{BUCKET}/uploads/mallory/01ABCDEFGHJK/a.jpg", "x", "mallory") == JPEG
    assert loader(blobs).load(f"s3://{BUCKET}/inbox/shoots/a.jpg", "x", "local", ("inbox/shoots/",)) == JPEG
    with pytest.raises(RequestInvalidError):
        loader(blobs).load(f"s3://{BUCKET}/inbox/shoots/a.jpg", "x", "local", ("inbox/other/",))


def test_given_a_ticket_never_used_when_loaded_then_nothing_was_uploaded_is_the_answer() -> None:
    upload = service(FakeBlobs()).create("acme", "a.jpg", "image/jpeg", 10)
    with pytest.raises(RequestInvalidError) as info:
        loader(FakeBlobs()).load(upload.image_ref, "source_image", "acme")
    assert info.value.code == "upload_not_found"


def test_given_an_upload_bigger_than_declared_when_loaded_then_the_byte_cap_still_holds() -> None:
    blobs = FakeBlobs()
    upload = service(blobs).create("acme", "a.jpg", "image/jpeg", 10)
    blobs.put(BUCKET, upload.key, b"\xff" * 1_000_001, "image/jpeg")
    with pytest.raises(RequestInvalidError) as info:
        loader(blobs).load(upload.image_ref, "source_image", "acme")
    assert info.value.code == "image_too_large"


def test_given_the_jobs_of_a_batch_sharing_an_image_when_stored_by_content_then_one_copy_is_put() -> None:
    scopes = ("inbox/shoot/",)  # a manifest's folder: where its jobs may read
    blobs = FakeBlobs()
    blobs.put(BUCKET, "inbox/shoot/me.jpg", JPEG, "image/jpeg")
    inputs = loader(blobs)
    puts: list[str] = []
    put = blobs.put
    blobs.put = lambda bucket, key, data, content_type: (puts.append(key), put(bucket, key, data, content_type))[1]  # type: ignore[method-assign]

    stored = [
        inputs.store(
            f"s3://{BUCKET}/inbox/shoot/me.jpg", "source_image", "inputs/acme/B1", "acme", scopes, by_content=True
        )
        for _ in range(3)
    ]

    assert len({s.key for s in stored}) == 1 and puts == [stored[0].key]
    assert stored[0].key.startswith("inputs/acme/B1/") and blobs.get(BUCKET, stored[0].key) == JPEG
    single = inputs.store(f"s3://{BUCKET}/inbox/shoot/me.jpg", "source_image", "inputs/acme/J1/source", "acme", scopes)
    assert single.key.startswith("inputs/acme/J1/source.")  # a single job keeps its own copy
