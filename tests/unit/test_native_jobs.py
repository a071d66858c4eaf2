"""The native API's use cases on in-memory fakes: list, cancel, sync wait, base64 outputs, idempotency, access."""

from __future__ import annotations

import base64
import hashlib

import pytest
from native_fakes import Clock, FakeIdempotency, make_service
from swapflow.jobs.access import Access, api_key_from
from swapflow.jobs.exceptions import (
    IdempotencyKeyReusedError,
    JobAlreadyTerminalError,
    JobNotFoundError,
    RequestInvalidError,
    TenantThrottledError,
    UnauthorizedError,
)
from swapflow.jobs.idempotency import request_fingerprint
from swapflow.jobs.inputs import InputLoader
from swapflow.jobs.models import Job, JobStatus, Output, StoredImage, SwapSpec
from swapflow.jobs.queries import decode_cursor, encode_cursor
from swapflow.net import FetchError, FetchPolicy

from tests.conftest import FIXTURES
from tests.shared.fakes import FakeBlobs

BODY = {"source_image": "https://img.example/a.jpg", "target_image": "https://img.example/b.jpg"}


def submit(svc, tenant: str = "acme", **extra):
    return svc.intake.create_job(tenant, svc.intake.parse({**BODY, **extra}))


def complete(svc, job_id: str, data: bytes = b"\xff\xd8jpeg-bytes") -> None:
    key = f"outputs/{job_id}/0.jpg"
    svc.blobs.put("archive", key, data, "image/jpeg")
    out = Output("archive", key, "image/jpeg", 64, 64, len(data), "0" * 64)
    assert svc.repo.finish(job_id, JobStatus.COMPLETED, [out], None, svc.clock())


# ---- list ---------------------------------------------------------------------------------------------


def test_given_jobs_of_two_tenants_when_listing_page_by_page_then_newest_first_own_jobs_each_once() -> None:
    svc = make_service()
    mine = []
    for _ in range(5):
        mine.append(submit(svc).id)
        submit(svc, tenant="other")
        svc.clock.sleep(1)

    seen, cursor = [], None
    while True:
        jobs, cursor = svc.queries.list_jobs("acme", limit=2, cursor=cursor)
        seen.extend(j.id for j in jobs)
        if cursor is None:
            break

    assert seen == list(reversed(mine))


def test_given_a_status_filter_when_listing_then_only_jobs_in_that_status() -> None:
    svc = make_service()
    done = submit(svc).id
    submit(svc)
    complete(svc, done)

    jobs, cursor = svc.queries.list_jobs("acme", status="completed")

    assert [j.id for j in jobs] == [done] and cursor is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"status": "done"}, "status"), ({"cursor": "x"}, "cursor")],
)
def test_given_bad_list_parameters_when_listing_then_refused_naming_the_parameter(kwargs, field) -> None:
    with pytest.raises(RequestInvalidError) as info:
        make_service().queries.list_jobs("acme", **kwargs)
    assert (info.value.code, info.value.field) == ("invalid_request", field)


def test_given_a_cursor_when_decoded_then_it_yields_the_job_id_it_was_made_from() -> None:
    job_id = "01M8AZD23DQNH5FQSXY1NP8PN6"
    assert decode_cursor(encode_cursor(job_id)) == job_id
    forged = base64.urlsafe_b64encode(b'{"after": "x\' OR 1=1"}').decode()
    with pytest.raises(RequestInvalidError):
        decode_cursor(forged)


# ---- cancel -------------------------------------------------------------------------------------------


def test_given_a_queued_job_when_cancelled_then_it_ends_cancelled_stops_the_workflow_and_emits_one_event() -> None:
    svc = make_service()
    job = submit(svc, metadata={"order": 7})

    cancelled = svc.lifecycle.cancel_job("acme", job.id)

    assert cancelled.status == JobStatus.CANCELLED
    assert cancelled.error and cancelled.error.code == "cancelled"
    assert svc.workflow.stopped == [(job.id, "cancelled by the client")]
    assert [t for t, _ in svc.events.published] == ["Swap Job Cancelled"]
    assert svc.events.published[0][1]["metadata"] == {"order": 7}
    # the workflow's finisher, if it still runs, finds the job terminal and emits nothing more
    svc.lifecycle.finish(job.id)
    assert len(svc.events.published) == 1


def test_given_the_workflow_cannot_be_stopped_when_cancelling_then_the_job_is_still_cancelled_once() -> None:
    svc = make_service()
    job = submit(svc)

    def refuse(job_id: str, cause: str) -> None:
        raise RuntimeError("throttled")

    svc.workflow.stop = refuse
    assert svc.lifecycle.cancel_job("acme", job.id).status == JobStatus.CANCELLED
    assert [t for t, _ in svc.events.published] == ["Swap Job Cancelled"]


def test_given_a_finished_job_when_cancelled_then_conflict_and_nothing_changes() -> None:
    svc = make_service()
    job = submit(svc)
    complete(svc, job.id)

    with pytest.raises(JobAlreadyTerminalError):
        svc.lifecycle.cancel_job("acme", job.id)
    assert svc.repo.get(job.id).status == JobStatus.COMPLETED
    assert svc.workflow.stopped == []


def test_given_another_tenants_job_when_cancelled_or_read_then_not_found() -> None:
    svc = make_service()
    job = submit(svc, tenant="other")
    with pytest.raises(JobNotFoundError):
        svc.lifecycle.cancel_job("acme", job.id)
    with pytest.raises(JobNotFoundError):
        svc.queries.get_job("acme", job.id)
    assert svc.repo.get(job.id).status == JobStatus.QUEUED


def test_given_publishing_fails_when_the_finisher_retries_then_the_event_goes_out_once() -> None:
    svc = make_service()
    job = submit(svc)
    calls = []

    def flaky(detail_type: str, detail: dict) -> None:
        calls.append(detail_type)
        if len(calls) == 1:
            raise ConnectionError("EventBridge unavailable")
        svc.events.published.append((detail_type, detail))

    svc.events.publish = flaky
    with pytest.raises(ConnectionError):
        svc.lifecycle.cancel_job("acme", job.id)
    svc.lifecycle.finish(job.id)  # the retry
    svc.lifecycle.finish(job.id)  # and a duplicate
    assert [t for t, _ in svc.events.published] == ["Swap Job Cancelled"]


# ---- sync wait and base64 ---------------------------------------------------------------------------


def test_given_a_job_that_ends_in_two_seconds_when_waiting_ten_then_the_ended_job_comes_back_early() -> None:
    clock = Clock()
    svc = make_service(clock=clock)
    job = submit(svc)
    started = clock()
    clock.at.append((started + 2, lambda: complete(svc, job.id)))

    waited = svc.queries.wait_for_job("acme", job.id, 10)

    assert waited.status == JobStatus.COMPLETED
    assert clock() - started < 3


def test_given_a_job_that_does_not_end_when_waiting_then_it_comes_back_open_after_the_wait() -> None:
    clock = Clock()
    svc = make_service(clock=clock)
    job = submit(svc)
    started = clock()

    waited = svc.queries.wait_for_job("acme", job.id, 1.5)

    assert waited.status == JobStatus.QUEUED
    assert 1.5 <= clock() - started < 2


def test_given_base64_output_asked_when_viewing_the_job_then_each_output_carries_its_bytes() -> None:
    svc = make_service()
    job = submit(svc, enable_base64_output=True, metadata={"k": "v"})
    complete(svc, job.id, b"\xff\xd8swapped")
    stored = svc.repo.get(job.id)

    view = svc.queries.view(stored, with_base64=True)

    assert base64.b64decode(view["outputs"][0]["base64"]) == b"\xff\xd8swapped"
    assert view["metadata"] == {"k": "v"}
    assert "base64" not in svc.queries.view(stored)["outputs"][0]  # lists and events stay small


def test_given_base64_not_asked_when_viewing_then_outputs_have_urls_only() -> None:
    svc = make_service()
    job = submit(svc)
    complete(svc, job.id)
    view = svc.queries.view(svc.repo.get(job.id), with_base64=True)
    assert "base64" not in view["outputs"][0] and view["outputs"][0]["url"]


# ---- idempotency --------------------------------------------------------------------------------------


def once(svc, key: str, body: dict, tenant: str = "acme"):
    return svc.intake.create_job_once(
        tenant, svc.intake.parse(body), idempotency_key=key, fingerprint=request_fingerprint(body)
    )


def test_given_the_same_key_and_body_twice_when_submitting_then_one_job_and_one_execution() -> None:
    svc = make_service()
    first, replayed_first = once(svc, "k-1", BODY)
    second, replayed_second = once(svc, "k-1", dict(reversed(list(BODY.items()))))

    assert second.id == first.id
    assert (replayed_first, replayed_second) == (False, True)
    assert svc.workflow.started == [first.id]


def test_given_the_same_key_with_another_body_when_submitting_then_idempotency_conflict() -> None:
    svc = make_service()
    once(svc, "k-1", BODY)
    with pytest.raises(IdempotencyKeyReusedError):
        once(svc, "k-1", {**BODY, "face_enhance": True})


def test_given_the_same_key_for_two_tenants_when_submitting_then_each_gets_its_own_job() -> None:
    svc = make_service()
    assert once(svc, "k-1", BODY)[0].id != once(svc, "k-1", BODY, tenant="other")[0].id


def test_given_a_bad_request_when_submitted_with_a_key_then_the_key_stays_free() -> None:
    svc = make_service()
    with pytest.raises(RequestInvalidError):
        once(svc, "k-1", {**BODY, "source_image": "bad:not-an-image"})
    job, replayed = once(svc, "k-1", BODY)
    assert not replayed and svc.workflow.started == [job.id]


def test_given_a_concurrent_winner_when_the_loser_reserves_then_it_answers_with_the_winners_job() -> None:
    clock = Clock()
    svc = make_service(clock=clock)
    winner = svc.intake.prepare_job("acme", svc.intake.parse(BODY), idempotency_key="k-1")
    svc.idempotency.reserve("acme", "k-1", request_fingerprint(BODY), winner.id)
    clock.at.append((clock() + 0.3, lambda: svc.intake.start_job(winner)))  # the winner records its job a moment later
    real_held = svc.idempotency.held
    svc.idempotency.held = lambda tenant, key: None  # the loser checked before the winner reserved

    job, replayed = once(svc, "k-1", BODY)

    svc.idempotency.held = real_held
    assert (job.id, replayed) == (winner.id, True)
    assert svc.workflow.started == [winner.id]


def test_given_a_winner_that_never_records_its_job_when_replaying_then_a_retryable_conflict() -> None:
    svc = make_service()
    svc.idempotency.reserve("acme", "k-1", request_fingerprint(BODY), "01M8AZD23DQNH5FQSXY1NP8PN6")
    with pytest.raises(RequestInvalidError) as info:
        once(svc, "k-1", BODY)
    assert info.value.code == "idempotency_conflict"


def test_given_the_job_cannot_be_recorded_when_submitting_with_a_key_then_the_key_is_released() -> None:
    svc = make_service()

    def broken(job) -> None:
        raise ConnectionError("DynamoDB unavailable")

    svc.repo.put_new = broken
    with pytest.raises(ConnectionError):
        once(svc, "k-1", BODY)
    assert svc.idempotency.records == {}


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
def test_given_a_malformed_idempotency_key_when_submitting_then_refused(key: str) -> None:
    with pytest.raises(RequestInvalidError) as info:
        once(make_service(idempotency=FakeIdempotency()), key, BODY)
    assert info.value.field == "Idempotency-Key"


def test_given_equal_json_documents_when_fingerprinted_then_equal() -> None:
    assert request_fingerprint({"a": 1, "b": [1, 2]}) == request_fingerprint({"b": [1, 2], "a": 1})
    assert request_fingerprint({"a": 1}) != request_fingerprint({"a": 2})


# ---- access -------------------------------------------------------------------------------------------


class Keys:
    def tenant_for(self, api_key: str) -> str | None:
        return {"sf_good": "acme"}.get(api_key)


class Window:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}

    def admit(self, tenant: str, limit: int, now: float) -> int | None:
        slot = (tenant, int(now))
        if self.counts.get(slot, 0) >= limit:
            return None
        self.counts[slot] = self.counts.get(slot, 0) + 1
        return self.counts[slot]


def test_given_headers_when_reading_the_key_then_x_api_key_or_bearer_in_any_case() -> None:
    assert api_key_from({"X-Api-Key": "sf_a"}) == "sf_a"
    assert api_key_from({"authorization": "Bearer sf_b"}) == "sf_b"
    assert api_key_from({"Authorization": "Basic abc"}) == ""
    assert api_key_from(None) == ""


@pytest.mark.parametrize("key", ["", "sf_unknown"])
def test_given_no_or_an_unknown_key_when_admitting_then_unauthorized(key: str) -> None:
    with pytest.raises(UnauthorizedError):
        Access(Keys(), Window(), rps=5).admit(key)


def test_given_a_tenant_over_its_limit_when_admitting_then_throttled_until_the_next_second() -> None:
    clock = Clock(100.2)
    access = Access(Keys(), Window(), rps=3, clock=clock)
    assert [access.admit("sf_good") for _ in range(3)] == ["acme"] * 3
    with pytest.raises(TenantThrottledError) as info:
        access.admit("sf_good")
    assert info.value.retry_after == 1
    assert access.admit("sf_good", throttle=False) == "acme"
    clock.sleep(1)
    assert access.admit("sf_good") == "acme"


def test_given_a_tenants_requests_when_admitted_then_each_says_what_is_left_of_this_seconds_budget() -> None:
    access = Access(Keys(), Window(), rps=3, clock=Clock(100.2))
    assert [access.admission("sf_good").remaining for _ in range(3)] == [2, 1, 0]
    unlimited = Access(Keys(), Window(), rps=0).admission("sf_good")
    assert (unlimited.tenant, unlimited.limit) == ("acme", 0)


def test_given_both_key_headers_when_reading_the_key_then_x_api_key_wins_unless_bearer_is_preferred() -> None:
    both = {"X-Api-Key": "from-header", "Authorization": "Bearer from-bearer"}
    assert api_key_from(both) == "from-header"
    assert api_key_from(both, prefer_bearer=True) == "from-bearer"
    assert api_key_from({"authorization": "bearer only"}) == "only"
    assert api_key_from({"Authorization": "Basic abc"}, prefer_bearer=True) == ""
    assert api_key_from(None) == ""


# ---- outputs the SSRF guard refuses (issue 11) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("refusal", "provider_code"),
    [
        (FetchError("url_not_allowed", "resolves to a non-public address (169.254.169.254)"), "output_url_not_allowed"),
        (FetchError("too_large", "over the 20971520-byte limit"), "output_too_large"),
    ],
)  # fmt: skip
def test_given_an_output_url_that_can_never_be_fetched_when_finishing_then_failed_at_once(
    refusal, provider_code
) -> None:
    def web(url: str, policy: FetchPolicy) -> bytes:
        raise refusal

    inputs = InputLoader(FakeBlobs(), input_bucket="inputs", policy=FetchPolicy(), max_pixels=1, max_bytes=1, fetch=web)
    svc = make_service(inputs=inputs)
    image = StoredImage("inputs", "inputs/acme/j/source.jpg", "image/jpeg", 8, 8)
    svc.repo.put_new(Job(id="01J", tenant="acme", provider="wavespeed-pro", spec=SwapSpec(image, image)))
    svc.repo.record_result("01J", {"state": "succeeded", "outputs": [{"url": "http://169.254.169.254/x"}]})

    ended = svc.lifecycle.finish("01J")  # no exception: the workflow does not retry it into `internal`

    assert ended.status is JobStatus.FAILED and ended.error is not None
    assert (ended.error.code, ended.error.provider_code) == ("provider_failed", provider_code)
    assert [t for t, _ in svc.events.published] == ["Swap Job Failed"]


def test_given_an_output_host_that_is_down_when_finishing_then_the_step_fails_for_the_workflow_to_retry() -> None:
    def web(url: str, policy: FetchPolicy) -> bytes:
        raise FetchError("url_unreachable", "connection failed")

    inputs = InputLoader(FakeBlobs(), input_bucket="inputs", policy=FetchPolicy(), max_pixels=1, max_bytes=1, fetch=web)
    svc = make_service(inputs=inputs)
    image = StoredImage("inputs", "inputs/acme/j/source.jpg", "image/jpeg", 8, 8)
    svc.repo.put_new(Job(id="01J", tenant="acme", provider="wavespeed-pro", spec=SwapSpec(image, image)))
    svc.repo.record_result("01J", {"state": "succeeded", "outputs": [{"url": "https://cdn.example/x.jpg"}]})

    with pytest.raises(FetchError):
        svc.lifecycle.finish("01J")
    assert svc.repo.get("01J").status is JobStatus.QUEUED


def test_given_a_body_with_a_lone_surrogate_when_fingerprinted_then_no_error() -> None:
    assert len(request_fingerprint({"a": "\ud800"})) == 64


@pytest.mark.parametrize(
    ("provider", "provider_job_id", "status", "family", "refusal"),
    [
        ("akool", "ak-1", JobStatus.PROCESSING, "wavespeed", "foreign"),  # a WaveSpeed-signed body, an Akool job
        ("engine", None, JobStatus.COMPLETED, "akool", "foreign"),
        ("auto", None, JobStatus.QUEUED, "akool", "foreign"),  # not yet on any provider
        ("wavespeed-pro", None, JobStatus.QUEUED, "wavespeed", "not_ready"),  # any id would have been taken
        ("wavespeed-pro", "ws-1", JobStatus.PROCESSING, "wavespeed", None),
        ("wavespeed-akool", "ws-2", JobStatus.COMPLETED, "wavespeed", None),  # a duplicate: 200, no change
    ],
)
def test_given_a_provider_callback_when_judged_then_only_its_own_providers_recorded_jobs_move(
    provider, provider_job_id, status, family, refusal
) -> None:
    image = StoredImage("inputs", "k.jpg", "image/jpeg", 8, 8)
    job = Job(id="01J", tenant="t", provider=provider, spec=SwapSpec(image, image), status=status)
    job = Job(**{**job.__dict__, "provider_job_id": provider_job_id})
    assert job.callback_refusal(family) == refusal


# ---- the documented answers are the views --------------------------------------------------------------


def test_given_queued_completed_and_cancelled_jobs_when_viewed_then_each_view_is_the_documented_job_model() -> None:
    from swapflow.api_models import Job as JobAnswer

    svc = make_service()
    done, cancelled, queued = submit(svc, metadata={"order": 7}), submit(svc), submit(svc)
    complete(svc, done.id)
    svc.lifecycle.cancel_job("acme", cancelled.id)
    for job_id in (done.id, cancelled.id, queued.id):
        view = svc.queries.view(svc.queries.get_job("acme", job_id), with_base64=True)
        assert JobAnswer.model_validate(view).id == job_id  # extra="forbid": no undocumented field either


def test_given_an_output_the_engine_just_wrote_when_finishing_then_it_is_archived_without_reading_it_back() -> None:
    blobs = FakeBlobs()
    inputs = InputLoader(blobs, input_bucket="inputs", policy=FetchPolicy(), max_pixels=10**8, max_bytes=10**8)
    svc = make_service(inputs=inputs, blobs=blobs)
    image = StoredImage("inputs", "inputs/acme/j/source.jpg", "image/jpeg", 8, 8)
    data = (FIXTURES / "target.jpg").read_bytes()
    reads: list[str] = []
    get = svc.blobs.get
    svc.blobs.get = lambda bucket, key: reads.append(key) or get(bucket, key)  # type: ignore[method-assign]
    for job_id in ("01STAGED", "01STORED"):
        svc.repo.put_new(Job(id=job_id, tenant="acme", provider="engine", spec=SwapSpec(image, image)))
        key = f"outputs/acme/{job_id}/0.jpg"
        svc.blobs.put("archive", key, data, "image/jpeg")
        svc.repo.record_result(job_id, {"state": "succeeded", "outputs": [{"bucket": "archive", "key": key}]})

    staged = svc.lifecycle.finish("01STAGED", {("archive", "outputs/acme/01STAGED/0.jpg"): data})
    stored = svc.lifecycle.finish("01STORED")  # another pass finishing: no bytes in hand, read from S3

    assert staged.status is stored.status is JobStatus.COMPLETED
    assert staged.outputs[0].sha256 == stored.outputs[0].sha256 == hashlib.sha256(data).hexdigest()
    assert reads == ["outputs/acme/01STORED/0.jpg"]
