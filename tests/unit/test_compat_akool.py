"""Akool drop-in mapping: Face Swap Pro v4 bodies, face selection by opts, listbyids items, detect bodies."""

from __future__ import annotations

import pytest
from swapflow.compat import akool
from swapflow.jobs.exceptions import RequestInvalidError
from swapflow.jobs.validation import parse_job_request

SRC, TGT = "https://img.example.com/new-face.jpg", "https://img.example.com/original.jpg"
# A detect_faces frame for three faces, left to right (the engine's shape).
FRAME = {
    "landmarks": [
        [[100, 100], [140, 100], [120, 120], [120, 140]],
        [[400, 90], [440, 90], [420, 110], [420, 130]],
        [[700, 100], [740, 100], [720, 120], [720, 140]],
    ],
    "landmarks_str": [
        "100,100:140,100:120,120:120,140",
        "400,90:440,90:420,110:420,130",
        "700,100:740,100:720,120:720,140",
    ],
    "crop_landmarks": ["40,40:80,40:60,60:60,80", "41,40:81,40:61,60:61,80", "42,40:82,40:62,60:62,80"],
}


def native(body: object, frame: dict | None = None) -> dict:
    out = akool.job_body(akool.parse_faceswap(body), provider="engine", frame=frame)
    parse_job_request(out, providers=("engine",), default_provider="engine")
    return out


def test_given_the_seeds_single_pair_when_mapped_then_it_is_a_plain_swap() -> None:
    body = {
        "sourceImage": [{"path": SRC}],
        "targetImage": [{"path": TGT}],
        "model_name": "akool_faceswap_image_hq",
        "face_enhance": True,
        "webhookUrl": "https://hooks.example.com/akool",
    }
    request = akool.parse_faceswap(body)
    assert not request.needs_faces
    out = native(body)
    assert (out["source_image"], out["target_image"], out["face_enhance"]) == (SRC, TGT, True)
    assert out["webhook_url"] == "https://hooks.example.com/akool" and "faces" not in out
    assert out["metadata"] == {"compat": "akool", "model": "akool_faceswap_image_hq"}


def test_given_opts_when_mapped_then_each_target_opts_picks_its_face_by_string_or_nearest_centre() -> None:
    body = {
        "sourceImage": [{"path": SRC, "opts": "1,1:2,2"}, {"path": SRC + "?2", "opts": "1,1:2,2"}],
        "targetImage": [{"path": TGT, "opts": FRAME["crop_landmarks"][2]}, {"path": TGT, "opts": "405,95:435,95"}],
    }
    out = native(body, FRAME)
    assert out["faces"] == [{"source_image": SRC, "target_face": 2}, {"source_image": SRC + "?2", "target_face": 1}]
    assert out["single_face_mode"] is False and out["target_image"] == TGT


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"targetImage": [{"path": TGT}]},
        {"sourceImage": [], "targetImage": [{"path": TGT}]},
        {"sourceImage": [{"path": SRC}] * 51, "targetImage": [{"path": TGT}]},
        {"sourceImage": [{"path": ""}], "targetImage": [{"path": TGT}]},
        {"sourceImage": [{"path": SRC, "opts": 5}], "targetImage": [{"path": TGT}]},
        {"sourceImage": [{"path": SRC}, {"path": SRC}], "targetImage": [{"path": TGT}, {"path": TGT}]},
        {
            "sourceImage": [{"path": SRC, "opts": "1,1"}, {"path": SRC, "opts": "1,1"}],
            "targetImage": [{"path": TGT, "opts": "1,1"}, {"path": TGT + "2", "opts": "1,1"}],
        },
        {"sourceImage": [{"path": SRC}], "targetImage": [{"path": TGT}], "model_name": "other"},
        {"sourceImage": [{"path": SRC}], "targetImage": [{"path": TGT}], "face_enhance": "true"},
    ],
)
def test_given_bodies_akool_would_reject_when_parsed_then_they_are_refused(body) -> None:
    with pytest.raises(RequestInvalidError):
        akool.parse_faceswap(body)


def test_given_opts_that_match_no_face_when_mapped_then_it_is_a_bad_parameter() -> None:
    body = {"sourceImage": [{"path": SRC}], "targetImage": [{"path": TGT, "opts": "junk"}]}
    with pytest.raises(RequestInvalidError):
        native(body, {"landmarks": []})


@pytest.mark.parametrize(
    ("status", "code", "has_url"),
    [
        ("queued", 1, False),
        ("processing", 2, False),
        ("completed", 3, True),
        ("failed", 4, False),
        ("cancelled", 4, False),
    ],
)
def test_given_job_states_when_listed_then_faceswap_status_and_url_follow_akool(status, code, has_url) -> None:
    view = {"id": "01J", "status": status, "outputs": [{"url": "https://s3/out.jpg"}], "created_at": "t", "error": None}
    item = akool.result_item(view)
    assert item["_id"] == "01J" and item["faceswap_status"] == code
    assert item["url"] == ("https://s3/out.jpg" if has_url else "")


def test_given_ids_when_parsed_then_commas_split_and_empty_is_refused() -> None:
    assert akool.parse_ids("a, b,,c") == ["a", "b", "c"]
    with pytest.raises(RequestInvalidError):
        akool.parse_ids("")


def test_given_detect_bodies_when_parsed_then_url_or_base64_img_become_an_image_ref() -> None:
    assert akool.detect_ref({"url": TGT, "single_face": True}) == (TGT, True)
    assert akool.detect_ref({"img": "QUJD"}) == ("data:image/jpeg;base64,QUJD", False)
    assert akool.detect_ref({"img": "data:image/png;base64,QUJD"})[0] == "data:image/png;base64,QUJD"
    with pytest.raises(RequestInvalidError):
        akool.detect_ref({"single_face": True})


def test_given_envelopes_when_built_then_they_match_akools() -> None:
    assert akool.submitted("01J") == {"code": 1000, "msg": "OK", "data": {"_id": "01J", "job_id": "01J", "url": ""}}
    assert akool.error(1101, "bad key") == {"code": 1101, "msg": "bad key", "data": None}
    assert akool.detected({"0": {}})["error_code"] == 0
