"""`swapflow.Client` against the local stack: what a Python user of the API sees."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from swapflow import Client
from swapflow.client import Job, JobFailedError, Output, SwapflowError, WaitTimeoutError

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "images"
SOURCE, TARGET = FIXTURES / "source.jpg", FIXTURES / "target.jpg"


def client(stack, **kwargs) -> Client:
    return Client(api_key=stack.api_key, base_url=stack.api_url, **kwargs)


def test_GIVEN_two_photos_WHEN_swapped_THEN_the_finished_job_is_typed_and_progress_was_reported(stack) -> None:
    seen: list[str] = []

    job = client(stack).swap(
        SOURCE, str(TARGET), output_format="png", metadata={"order": 42}, progress=lambda j, _: seen.append(j.status)
    )

    assert isinstance(job, Job) and job.status == "completed" and job.terminal
    assert seen[0] == "queued" and seen[-1] == "completed"
    assert job.metadata == {"order": 42} and job.provider == "engine"
    output = job.output
    assert isinstance(output, Output) and (output.content_type, output.width, output.height) == ("image/png", 512, 512)
    data = client(stack).download(job)
    assert hashlib.sha256(data).hexdigest() == output.sha256 and len(data) == output.bytes


def test_GIVEN_files_over_the_inline_limit_WHEN_swapped_THEN_they_go_through_uploads(stack, tmp_path: Path) -> None:
    small = client(stack, inline_limit=1024)
    assert small.image(SOURCE).startswith("upload:")
    assert client(stack).image(SOURCE).startswith("data:image/jpeg;base64,")

    uploaded = small.upload(TARGET.read_bytes())
    from_url = small.upload(uploaded.download_url)  # a URL's content, uploaded again
    job = small.swap(SOURCE, from_url.image_ref)

    assert uploaded.image_ref.startswith("upload:") and from_url.image_ref != uploaded.image_ref
    assert job.status == "completed" and job.output and job.output.width == 512
    saved = tmp_path / "out" / "result.jpg"
    small.download(job, saved)
    assert saved.read_bytes()[:2] == b"\xff\xd8"


def test_GIVEN_bad_calls_WHEN_made_THEN_errors_carry_the_apis_code_and_status(stack, tmp_path: Path) -> None:
    api = client(stack)
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_bytes(b"just text")

    with pytest.raises(SwapflowError) as unauthorized:
        Client(api_key="sf_nobody", base_url=stack.api_url).get("01NOSUCHJOB000000000000000")
    with pytest.raises(SwapflowError) as missing:
        api.get("01NOSUCHJOB000000000000000")
    with pytest.raises(SwapflowError) as invalid:
        api.submit(not_an_image, TARGET)
    with pytest.raises(JobFailedError) as failed:
        api.swap(FIXTURES / "noface.jpg", TARGET)
    with pytest.raises(SwapflowError) as ended:
        api.cancel(failed.value.job.id)
    with pytest.raises(SwapflowError) as nowhere:
        Client(api_key="k", base_url="http://127.0.0.1:9").get("x")

    assert (unauthorized.value.code, unauthorized.value.status) == ("unauthorized", 401)
    assert (missing.value.code, missing.value.status) == ("not_found", 404)
    assert (invalid.value.code, invalid.value.status, invalid.value.field) == ("invalid_image", 400, "source_image")
    assert failed.value.code == "no_face_in_source" and failed.value.job.status == "failed"
    assert (ended.value.code, ended.value.status) == ("conflict", 409)
    assert nowhere.value.code == "connection_error" and nowhere.value.status is None


def test_GIVEN_more_jobs_than_a_page_WHEN_listed_THEN_pages_are_followed_newest_first(stack) -> None:
    api = client(stack)
    made = [api.submit(SOURCE, TARGET, metadata={"n": n}).id for n in range(3)]

    listed = list(api.list(page_size=2, limit=3))
    failed = list(api.list(status="failed", page_size=100))

    assert [j.id for j in listed] == made[::-1]  # ids sort by time: the newest three are ours
    assert all(j.status == "failed" for j in failed)
    assert all(api.wait(job_id).terminal for job_id in made)


def test_GIVEN_a_job_slower_than_the_wait_WHEN_waited_THEN_timeout_with_the_last_seen_job(slow_stack) -> None:
    api = client(slow_stack)
    job = api.submit(SOURCE, TARGET)

    with pytest.raises(WaitTimeoutError) as timeout:
        api.wait(job, timeout=0.5, interval=0.1)

    assert timeout.value.code == "timeout" and timeout.value.job.id == job.id and not timeout.value.job.terminal
    assert api.cancel(job.id).status == "cancelled"


def test_GIVEN_a_tenant_over_its_rate_WHEN_calling_THEN_429s_are_retried_after_retry_after(throttled_stack) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    api = client(throttled_stack, sleep=sleep)
    pages = [api.list_page(limit=1) for _ in range(8)]  # 3 requests a second are allowed

    assert len(pages) == 8
    assert slept and all(s >= 1 for s in slept)  # the stack answers Retry-After: 1


def test_GIVEN_two_targets_WHEN_sent_as_a_batch_THEN_both_complete(stack) -> None:
    api = client(stack)
    targets = [{"target_image": TARGET}, {"target_image": FIXTURES / "multi.jpg"}]
    batch = api.batch(targets, defaults={"source_image": SOURCE})

    deadline = time.monotonic() + 120
    while not batch.terminal and time.monotonic() < deadline:
        time.sleep(0.5)
        batch = api.get_batch(batch.id)

    assert batch.status == "completed" and batch.counts["completed"] == 2 and len(batch.jobs) == 2
    assert [j["index"] for j in api.get_batch(batch.id, page_size=1).jobs] == [0, 1]  # pages followed
    with pytest.raises(SwapflowError) as ended:
        api.cancel_batch(batch.id)
    assert ended.value.code == "batch_ended"
