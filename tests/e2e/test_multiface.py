"""Several faces in one target: target_index picks one, `faces` maps several sources in one job."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from swapflow.engine import detect_faces

from infra.local.client import data_uri, download

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "images"
MULTI = FIXTURES / "multi.jpg"


def changed_faces(output: bytes) -> list[float]:
    """Mean absolute change inside each target face box, faces left to right."""
    target = np.asarray(Image.open(MULTI).convert("RGB"), dtype=np.int16)
    result = np.asarray(Image.open(io.BytesIO(output)).convert("RGB"), dtype=np.int16)
    assert result.shape == target.shape
    diffs = []
    for face in detect_faces(MULTI.read_bytes()):
        x, y, w, h = face.box
        diffs.append(float(np.abs(result[y : y + h, x : x + w] - target[y : y + h, x : x + w]).mean()))
    return diffs


def run(stack, body: dict) -> dict:
    api = stack.client()
    job = api.wait(api.submit({"target_image": data_uri(MULTI), **body})["id"], timeout=120)
    assert job["status"] == "completed", job
    return job


def test_given_three_faces_when_target_index_is_1_then_only_the_middle_face_changes(stack) -> None:
    job = run(stack, {"source_image": data_uri(FIXTURES / "source.jpg"), "target_index": 1})
    diffs = changed_faces(download(job["outputs"][0]["url"]))
    assert len(diffs) == 3
    assert diffs[1] > 8 and diffs[0] < 2 and diffs[2] < 2, diffs


def test_given_faces_mapping_when_swapped_then_both_named_faces_change_in_one_job(stack) -> None:
    src = data_uri(FIXTURES / "source.jpg")
    job = run(stack, {"faces": [{"source_image": src, "target_face": 0}, {"source_image": src, "target_face": 2}]})
    diffs = changed_faces(download(job["outputs"][0]["url"]))
    assert diffs[0] > 8 and diffs[2] > 8 and diffs[1] < 2, diffs


def test_given_single_face_mode_off_when_swapped_then_every_face_changes(stack) -> None:
    job = run(stack, {"source_image": data_uri(FIXTURES / "source.jpg"), "single_face_mode": False})
    diffs = changed_faces(download(job["outputs"][0]["url"]))
    assert all(d > 8 for d in diffs), diffs
