"""The WaveSpeed drop-in surface on the local stack: the official `wavespeed` SDK, then raw HTTP."""

from __future__ import annotations

import io
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import wavespeed
from PIL import Image

from infra.local.client import data_uri, download

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "images"
SOURCE, TARGET = FIXTURES / "source.jpg", FIXTURES / "target.jpg"


def sdk(stack, api_key: str | None = None) -> wavespeed.Client:
    return wavespeed.Client(api_key=api_key or stack.api_key, base_url=stack.api_url, max_connection_retries=0)


def decodable(url: str) -> Image.Image:
    image = Image.open(io.BytesIO(download(url)))
    image.load()
    return image


def http(method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def bearer(stack, key: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key or stack.api_key}"}


def test_given_the_official_sdk_when_it_runs_face_swap_pro_on_uploads_then_it_saves_a_swapped_image(
    stack, tmp_path
) -> None:
    client = sdk(stack)
    face_url = client.upload(str(SOURCE))
    photo_url = client.upload(str(TARGET))

    output = client.run(
        "wavespeed-ai/image-face-swap-pro",
        {"image": photo_url, "face_image": face_url, "output_format": "png"},
        timeout=90,
        poll_interval=0.2,
    )

    (url,) = output["outputs"]
    saved = tmp_path / "swapped.png"
    saved.write_bytes(download(url))  # presigned: no key needed
    image = Image.open(saved)
    assert image.format == "PNG" and image.size == Image.open(TARGET).size


def test_given_the_official_sdk_when_it_runs_akool_face_swap_in_sync_mode_then_one_call_returns_the_image(
    stack,
) -> None:
    with SOURCE.open("rb") as stream:
        face_url = sdk(stack).upload(stream)

    output = sdk(stack).run(
        "akool/image-face-swap",
        {"image": data_uri(TARGET), "source_image": face_url, "target_image": data_uri(TARGET)},
        enable_sync_mode=True,
        timeout=60,
    )

    (url,) = output["outputs"]
    assert decodable(url).size == Image.open(TARGET).size


def test_given_a_submit_when_polled_at_once_then_the_prediction_is_readable_in_wavespeed_words(stack) -> None:
    api = stack.client(api_key=None)
    body = {"image": data_uri(TARGET), "face_image": data_uri(SOURCE), "target_index": 0}

    status, _, submitted = api.request("POST", "/api/v3/wavespeed-ai/image-face-swap", body, headers=bearer(stack))
    assert status == 200 and submitted["code"] == 200, submitted
    data = submitted["data"]
    assert data["status"] in ("created", "processing") and data["outputs"] == [] and data["error"] == ""
    assert data["model"] == "wavespeed-ai/image-face-swap"
    assert data["urls"]["get"] == f"{stack.api_url}/api/v3/predictions/{data['id']}/result"

    status, _, first = api.request("GET", f"/api/v3/predictions/{data['id']}/result", headers=bearer(stack))
    assert status == 200 and first["data"]["id"] == data["id"]
    deadline = time.monotonic() + 90
    while first["data"]["status"] not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        _, _, first = api.request("GET", f"/api/v3/predictions/{data['id']}", headers=bearer(stack))
    assert first["data"]["status"] == "completed", first
    # The engine checks nothing: no verdict is claimed, and the answer says no one checked.
    assert first["data"]["has_nsfw_contents"] == [False] and first["data"]["nsfw_checked"] == [False]
    assert decodable(first["data"]["outputs"][0]).format == "JPEG"


def test_given_base64_output_when_the_job_completes_then_outputs_are_data_uris(stack) -> None:
    out = sdk(stack).run(
        "wavespeed-ai/image-face-swap-pro",
        {"image": data_uri(TARGET), "face_image": data_uri(SOURCE), "enable_base64_output": True},
        enable_sync_mode=True,
    )
    assert out["outputs"][0].startswith("data:image/jpeg;base64,")


def test_given_a_multipart_binary_upload_when_used_as_input_then_the_swap_reads_it_from_storage(stack) -> None:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="face one.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + SOURCE.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {**bearer(stack), "Content-Type": f"multipart/form-data; boundary={boundary}"}

    status, raw = http("POST", f"{stack.api_url}/api/v3/media/upload/binary", body, headers)

    import json

    answer = json.loads(raw)
    assert status == 200 and answer["code"] == 200, answer
    assert answer["data"]["size"] == len(SOURCE.read_bytes()) and answer["data"]["filename"] == "face-one.jpg"
    assert download(answer["data"]["download_url"]) == SOURCE.read_bytes()
    out = sdk(stack).run(
        "wavespeed-ai/image-face-swap-pro",
        {"image": data_uri(TARGET), "face_image": answer["data"]["download_url"]},
        enable_sync_mode=True,
    )
    assert decodable(out["outputs"][0])


@pytest.mark.parametrize(
    ("method", "path", "body", "key", "status"),
    [
        ("POST", "/api/v3/wavespeed-ai/image-face-swap-pro", {"image": "x", "face_image": "y"}, "sf_wrong", 401),
        ("POST", "/api/v3/wavespeed-ai/image-face-swap-pro", {"image": "x", "face_image": "y"}, "", 401),
        ("GET", "/api/v3/predictions/01NOPE0000000000000000000/result", None, None, 404),
        ("POST", "/api/v3/wavespeed-ai/image-face-swap-pro", {"face_image": "data:x"}, None, 400),
        (
            "POST",
            "/api/v3/wavespeed-ai/image-face-swap",
            {"image": "a", "face_image": "b", "target_index": 11},
            None,
            400,
        ),
        ("POST", "/api/v3/akool/image-face-swap", b"{not json", None, 400),
        ("POST", "/api/v3/media/uploads", {"filename": "a.txt", "size": 10, "content_type": "text/plain"}, None, 415),
        ("POST", "/api/v3/media/uploads", {"filename": "a.jpg", "size": 30_000_000}, None, 413),
        ("GET", "/api/v3/no-such/model", None, None, 404),
    ],
)
def test_given_a_bad_request_when_sent_then_the_answer_is_wavespeeds_error_envelope(
    stack, method, path, body, key, status
) -> None:
    headers = {} if key == "" else bearer(stack, key)
    code, _, answer = stack.client(api_key=None).request(method, path, body, headers=headers)
    assert code == status
    assert answer["code"] == status and answer["data"] is None and answer["message"], answer


def test_given_a_native_upload_when_its_ref_and_url_are_used_then_only_the_owner_can_read_them(stack) -> None:
    api = stack.client()
    size = len(TARGET.read_bytes())
    status, _, ticket = api.request(
        "POST", "/v1/uploads", {"filename": "t.jpg", "content_type": "image/jpeg", "size": size}
    )
    assert status == 201, ticket
    assert ticket["upload"]["method"] == "PUT" and ticket["image_ref"].startswith("upload:")
    put_status, _ = http("PUT", ticket["upload"]["url"], TARGET.read_bytes(), ticket["upload"]["headers"])
    assert put_status == 200

    job = api.submit({"source_image": data_uri(SOURCE), "target_image": ticket["image_ref"]})
    assert api.wait(job["id"])["status"] == "completed"

    other_key = f"sf_other_{uuid.uuid4().hex[:8]}"
    seed_key(stack, other_key, "other-tenant")
    other = stack.client(api_key=other_key)
    for ref in (ticket["image_ref"], ticket["download_url"]):
        status, _, refused = other.request("POST", "/v1/jobs", {"source_image": data_uri(SOURCE), "target_image": ref})
        assert status == 400 and refused["error"]["code"] in ("upload_not_found", "url_not_allowed"), refused


def seed_key(stack, api_key: str, tenant: str) -> None:
    import hashlib

    ddb = stack.boto("dynamodb")
    (table,) = [t for t in ddb.list_tables()["TableNames"] if "Jobs" in t]
    ddb.put_item(
        TableName=table,
        Item={
            "pk": {"S": f"KEY#{hashlib.sha256(api_key.encode()).hexdigest()}"},
            "sk": {"S": "KEY"},
            "tenant": {"S": tenant},
            "created_at": {"N": str(time.time())},
        },
    )
