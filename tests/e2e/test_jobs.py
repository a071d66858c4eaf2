"""A user's view of the walking skeleton: submit over HTTP, follow the job, fetch the archived output."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image
from swapflow.engine import detect_faces

from infra.local.client import data_uri, download

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "images"
SOURCE = FIXTURES / "source.jpg"
TARGET = FIXTURES / "target.jpg"


def wait_for_events(stack, job_id: str, count: int = 1, timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    events = stack.events_for(job_id)
    while len(events) < count and time.monotonic() < deadline:
        time.sleep(0.1)
        events = stack.events_for(job_id)
    time.sleep(0.5)  # a second (wrong) event would arrive within this window
    return stack.events_for(job_id)


def swap_job(stack, **extra) -> dict:
    api = stack.client()
    accepted = api.submit({"source_image": data_uri(SOURCE), "target_image": data_uri(TARGET), **extra})
    assert accepted["status"] == "queued"
    assert accepted["urls"]["get"] == f"/v1/jobs/{accepted['id']}"
    return api.wait(accepted["id"], timeout=120)


def assert_swapped(output_bytes: bytes) -> None:
    target = np.asarray(Image.open(TARGET).convert("RGB"), dtype=np.int16)
    result = np.asarray(Image.open(io.BytesIO(output_bytes)).convert("RGB"), dtype=np.int16)
    assert result.shape == target.shape
    x, y, w, h = detect_faces(TARGET.read_bytes())[0].box
    face_diff = np.abs(result[y : y + h, x : x + w] - target[y : y + h, x : x + w]).mean()
    mask = np.ones(target.shape[:2], bool)
    pad = max(w, h) // 2
    mask[max(0, y - pad) : y + h + pad, max(0, x - pad) : x + w + pad] = False
    background_diff = np.abs(result[mask] - target[mask]).mean()
    assert face_diff > 12, f"face region barely changed ({face_diff:.1f})"
    assert background_diff < 3, f"background changed ({background_diff:.1f})"


def test_given_two_photos_when_a_job_is_submitted_then_it_completes_with_an_archived_swap(stack) -> None:
    job = swap_job(stack, metadata={"order": 42})

    assert job["status"] == "completed", job
    assert job["provider"] == "engine"
    assert job["metadata"] == {"order": 42}
    (output,) = job["outputs"]
    assert output["key"].startswith(f"outputs/local/{job['id']}/") and output["content_type"] == "image/jpeg"
    archived = stack.boto("s3").get_object(Bucket=output["bucket"], Key=output["key"])["Body"].read()
    assert download(output["url"]) == archived
    assert output["bytes"] == len(archived)
    assert_swapped(archived)

    events = wait_for_events(stack, job["id"])
    assert [e["detail-type"] for e in events] == ["Swap Job Completed"]
    detail = events[0]["detail"]
    assert detail["version"] == 1 and detail["metadata"] == {"order": 42}
    assert detail["outputs"][0]["key"] == output["key"]
    # The engine completed the job through the webhook path: one Run pass, its wait never timed out.
    assert stack.states_entered(job["id"]) == ["Run"] and stack.run_passes(job["id"]) == 1


def test_given_lost_callback_when_a_job_runs_then_polling_completes_it_once(polling_stack) -> None:
    job = swap_job(polling_stack, output_format="png")

    assert job["status"] == "completed", job
    assert job["outputs"][0]["content_type"] == "image/png"
    assert_swapped(download(job["outputs"][0]["url"]))
    assert polling_stack.run_passes(job["id"]) >= 2  # the wait timed out and a later pass polled
    events = wait_for_events(polling_stack, job["id"])
    assert [e["detail-type"] for e in events] == ["Swap Job Completed"]


def test_given_a_photo_without_a_face_when_swapped_then_the_job_fails_with_a_clear_code(stack) -> None:
    api = stack.client()
    accepted = api.submit({"source_image": data_uri(FIXTURES / "noface.jpg"), "target_image": data_uri(TARGET)})
    job = api.wait(accepted["id"], timeout=120)

    assert job["status"] == "failed"
    assert job["error"]["code"] == "no_face_in_source"
    assert job["outputs"] == []
    events = wait_for_events(stack, job["id"])
    assert [e["detail-type"] for e in events] == ["Swap Job Failed"]
    assert events[0]["detail"]["error"]["code"] == "no_face_in_source"


def test_given_a_target_index_beyond_the_faces_when_swapped_then_the_job_fails_out_of_range(stack) -> None:
    job = swap_job(stack, target_index=7)
    assert job["status"] == "failed"
    assert job["error"]["code"] == "target_index_out_of_range"
