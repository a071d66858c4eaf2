"""Bad input gets a clear 4xx with a machine-readable code, never a 500, and no job."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest

from infra.local.client import data_uri

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "images"
GOOD = data_uri(FIXTURES / "target.jpg")
TEXT = "data:image/jpeg;base64," + base64.b64encode(b"this is not an image at all").decode()
TRUNCATED = "data:image/jpeg;base64," + base64.b64encode((FIXTURES / "target.jpg").read_bytes()[:3000]).decode()


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (b"{not json", 400, "invalid_json", None),
        (b"", 400, "invalid_json", None),
        ({"target_image": GOOD}, 400, "invalid_request", "source_image"),
        (
            {"source_image": GOOD, "target_image": GOOD, "provider": "magic"},
            400,
            "unknown_provider",
            "provider",
        ),
        ({"source_image": TEXT, "target_image": GOOD}, 400, "invalid_image", "source_image"),
        ({"source_image": GOOD, "target_image": TRUNCATED}, 400, "invalid_image", "target_image"),
        (  # local mode trusts the stack's own endpoints on loopback, not whatever else listens there
            {"source_image": "http://127.0.0.1:9/missing.jpg", "target_image": GOOD},
            400,
            "url_not_allowed",
            "source_image",
        ),
        (
            {"source_image": "http://169.254.169.254/latest/meta-data", "target_image": GOOD},
            400,
            "url_not_allowed",
            "source_image",
        ),
        (
            {"source_image": "file:///etc/passwd", "target_image": GOOD},
            400,
            "invalid_request",
            "source_image",
        ),
        (
            {"source_image": GOOD, "target_image": GOOD, "provider": "akool"},
            422,
            "provider_unavailable",
            "provider",
        ),
    ],
)
def test_given_bad_input_when_submitted_then_4xx_with_code_and_message(stack, body, status, code, field) -> None:
    got, _, payload = stack.client().request("POST", "/v1/jobs", body)
    assert got == status, payload
    assert payload["error"]["code"] == code
    assert payload["error"]["message"]
    if field:
        assert payload["error"]["field"] == field


@pytest.mark.parametrize("api_key", [None, "wrong-key"])
def test_given_no_valid_key_when_calling_then_401(stack, api_key) -> None:
    status, _, payload = stack.client(api_key).request("POST", "/v1/jobs", {"source_image": GOOD})
    assert status == 401
    assert payload["error"]["code"] == "unauthorized"


def test_given_bearer_key_when_getting_an_unknown_job_then_404(stack) -> None:
    api = stack.client(None)
    status, _, payload = api.request(
        "GET", "/v1/jobs/01NOSUCHJOB000000000000000", headers={"Authorization": f"Bearer {stack.api_key}"}
    )
    assert status == 404
    assert payload["error"]["code"] == "not_found"


def test_given_unknown_route_when_called_then_404_json(stack) -> None:
    status, _, payload = stack.client().request("GET", "/v1/nothing-here")
    assert status == 404
    assert payload["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/jobs?limit=0", "limit"),
        ("/v1/jobs?limit=101", "limit"),
        ("/v1/jobs?limit=ten", "limit"),
        ("/v1/jobs?status=done", "status"),
    ],
)
def test_given_a_query_outside_the_models_when_listing_then_400_naming_the_parameter(stack, path, field) -> None:
    status, _, payload = stack.client().request("GET", path)
    assert status == 400, payload
    assert (payload["error"]["code"], payload["error"]["field"]) == ("invalid_request", field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target_image": GOOD, "faces": [{"source_image": "", "target_face": 0}]}, "faces[0].source_image"),
        ({"target_image": GOOD, "faces": [{"source_image": GOOD, "target_face": 50}]}, "faces[0].target_face"),
        ({"source_image": GOOD, "target_image": GOOD, "face_enhance": "true"}, "face_enhance"),
        ({"source_image": GOOD, "target_image": GOOD, "wait": "5"}, "wait"),
        ({"source_image": GOOD, "target_image": GOOD, "colour": "red", "size": 1}, "colour"),
    ],
)  # fmt: skip
def test_given_a_body_the_model_refuses_when_submitted_then_400_with_the_dotted_path(stack, body, field) -> None:
    status, _, payload = stack.client().request("POST", "/v1/jobs", body)
    assert status == 400, payload
    assert (payload["error"]["code"], payload["error"]["field"]) == ("invalid_request", field)


def test_given_a_job_sent_as_text_plain_when_submitted_then_415_naming_the_content_type(stack) -> None:
    request = urllib.request.Request(
        f"{stack.api_url}/v1/jobs",
        data=json.dumps({"source_image": GOOD, "target_image": GOOD}).encode(),
        method="POST",
        headers={"x-api-key": stack.api_key, "Content-Type": "text/plain"},
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=30)
    payload = json.loads(answer.value.read())
    assert answer.value.code == 415
    assert (payload["error"]["code"], payload["error"]["field"]) == ("unsupported_media_type", "Content-Type")


def test_given_an_upload_ticket_with_a_mistyped_size_when_asked_then_400_naming_it(stack) -> None:
    status, _, payload = stack.client().request(
        "POST", "/v1/uploads", {"filename": "a.jpg", "content_type": "image/jpeg", "size": "12"}
    )
    assert status == 400, payload
    assert (payload["error"]["code"], payload["error"]["field"]) == ("invalid_request", "size")
