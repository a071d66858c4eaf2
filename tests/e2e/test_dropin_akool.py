"""The Akool drop-in surface on the local stack: Face Swap Pro v4, listbyids and detect_faces over HTTP."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from infra.local.client import data_uri, download

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "images"
SOURCE, TARGET, MULTI = FIXTURES / "source.jpg", FIXTURES / "target.jpg", FIXTURES / "multi.jpg"


def akool(stack, method: str, path: str, body: Any = None, key: str | None = "default") -> dict[str, Any]:
    headers = {} if key is None else {"x-api-key": stack.api_key if key == "default" else key}
    status, _, answer = stack.client(api_key=None).request(method, path, body, headers=headers)
    assert status == 200, answer  # Akool answers HTTP 200 and puts the outcome in `code`
    return dict(answer)


def wait_result(stack, job_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer = akool(stack, "GET", f"/api/open/v3/faceswap/result/listbyids?_ids={job_id},01UNKNOWN0000000000000000")
        assert answer["code"] == 1000, answer
        (item,) = answer["data"]["result"]  # the unknown id is simply left out
        if item["faceswap_status"] in (3, 4) or time.monotonic() > deadline:
            return dict(item)
        assert item["faceswap_status"] in (1, 2) and item["url"] == ""
        time.sleep(0.2)


def test_given_one_pair_when_submitted_to_face_swap_pro_then_listbyids_reports_success_with_a_url(stack) -> None:
    body = {
        "sourceImage": [{"path": data_uri(SOURCE)}],
        "targetImage": [{"path": data_uri(TARGET)}],
        "model_name": "akool_faceswap_image_hq",
        "face_enhance": True,
    }

    answer = akool(stack, "POST", "/api/open/v4/faceswap/faceswapByImage", body)

    assert answer["code"] == 1000 and answer["msg"] == "OK", answer
    item = wait_result(stack, answer["data"]["_id"])
    assert item["faceswap_status"] == 3, item
    with Image.open(__import__("io").BytesIO(download(item["url"]))) as image:
        assert image.size == Image.open(TARGET).size


def test_given_the_multi_face_photo_when_detected_then_three_faces_come_left_to_right(stack) -> None:
    answer = akool(
        stack, "POST", "/interface/detect-api/detect_faces", {"img": base64.b64encode(MULTI.read_bytes()).decode()}
    )

    assert answer["error_code"] == 0 and answer["code"] == 1000, answer
    frame = answer["faces_obj"]["0"]
    assert len(frame["landmarks"]) == len(frame["crop_landmarks"]) == len(frame["region"]) == 3
    xs = [region[0] + region[2] / 2 for region in frame["region"]]
    assert xs == sorted(xs)


def test_given_opts_from_detect_faces_when_two_faces_are_swapped_then_the_job_completes(stack) -> None:
    frame = akool(stack, "POST", "/interface/detect-api/detect_faces", {"url": data_uri(MULTI)})["faces_obj"]["0"]
    multi = data_uri(MULTI)
    body = {
        "sourceImage": [{"path": data_uri(SOURCE), "opts": "1,1:2,2:3,3:4,4"}] * 2,
        "targetImage": [
            {"path": multi, "opts": frame["crop_landmarks"][0]},
            {"path": multi, "opts": frame["landmarks_str"][2]},
        ],
    }

    answer = akool(stack, "POST", "/api/open/v4/faceswap/faceswapByImage", body)

    assert answer["code"] == 1000, answer
    assert wait_result(stack, answer["data"]["_id"])["faceswap_status"] == 3


@pytest.mark.parametrize(
    ("path", "body", "key", "code"),
    [
        ("/api/open/v4/faceswap/faceswapByImage", {"sourceImage": [], "targetImage": []}, "sf_wrong", 1101),
        ("/api/open/v4/faceswap/faceswapByImage", {"sourceImage": [], "targetImage": []}, None, 1102),
        ("/interface/detect-api/detect_faces", {"url": "x"}, None, 1102),
        ("/api/open/v4/faceswap/faceswapByImage", {"sourceImage": [{"path": "a"}]}, "default", 1003),
        (
            "/api/open/v4/faceswap/faceswapByImage",
            {"sourceImage": [{"path": "a"}, {"path": "b"}], "targetImage": [{"path": "c"}, {"path": "c"}]},
            "default",
            1003,
        ),
        ("/api/open/v4/faceswap/faceswapByImage", b"{oops", "default", 1003),
        ("/interface/detect-api/detect_faces", {"single_face": True}, "default", 1003),
        ("/interface/detect-api/detect_faces", {"img": "bm90IGFuIGltYWdl"}, "default", 1003),
    ],
)
def test_given_a_bad_request_when_sent_then_akool_answers_200_with_its_error_code(stack, path, body, key, code) -> None:
    answer = akool(stack, "POST", path, body, key=key)
    assert answer["code"] == code and answer["msg"] and answer.get("data") is None, answer


def test_given_no_ids_when_listbyids_is_asked_then_it_is_a_bad_parameter(stack) -> None:
    assert akool(stack, "GET", "/api/open/v3/faceswap/result/listbyids")["code"] == 1003


def test_given_a_bearer_token_instead_of_x_api_key_when_sent_then_akool_routes_accept_it(stack) -> None:
    headers = {"Authorization": f"Bearer {stack.api_key}", "x-api-key": "sf_ignored_when_bearer_is_set"}
    status, _, answer = stack.client(api_key=None).request(
        "POST", "/interface/detect-api/detect_faces", {"url": data_uri(TARGET), "single_face": True}, headers=headers
    )
    assert status == 200 and answer["code"] == 1000, answer
    assert len(answer["faces_obj"]["0"]["landmarks"]) == 1
