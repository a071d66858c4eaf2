"""Batches in the domain: acceptance is all or nothing, limits, ids, manifests, counting each job once."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from batch_fakes import JPEG, FakeBatchRepository, FakeJobs, FakeWorkflow
from swapflow.jobs.batches import BATCH_COMPLETED, BatchService, BatchTracker, ProviderLimits
from swapflow.jobs.exceptions import BatchInvalidError, RequestInvalidError
from swapflow.jobs.idempotency import Idempotency
from swapflow.jobs.manifests import ERROR, OUTPUTS, RESULT, ManifestLocation, parse_manifest
from swapflow.jobs.models import Job, JobError, JobStatus, Output, StoredImage, SwapSpec, derived_id
from swapflow.settings import Settings

from tests.shared.fakes import FakeEvents

INPUT = "input-bucket"
IMAGE = "https://images.example/a.jpg"


def make_service(**settings: Any) -> tuple[BatchService, FakeBatchRepository, FakeWorkflow, FakeJobs]:
    repo, runner, jobs = FakeBatchRepository(), FakeWorkflow(), FakeJobs()
    tracker = BatchTracker(repo=repo, blobs=jobs.blobs, events=FakeEvents(), workflow=FakeWorkflow())
    svc = BatchService(
        settings=Settings(input_bucket=INPUT, **settings),
        intake=jobs,  # type: ignore[arg-type]
        queries=jobs,  # type: ignore[arg-type]
        lifecycle=jobs,  # type: ignore[arg-type]
        blobs=jobs.blobs,
        idempotency=Idempotency(jobs.idempotency),
        repo=repo,
        runner=runner,
        tracker=tracker,
    )
    return svc, repo, runner, jobs


def job_of(batch_id: str, job_id: str, status: JobStatus, outputs: list[Output] | None = None) -> Job:
    image = StoredImage(INPUT, "inputs/x.jpg", "image/jpeg", 8, 8)
    return Job(
        id=job_id,
        tenant="t",
        provider="engine",
        spec=SwapSpec(image, image),
        status=status,
        outputs=outputs or [],
        error=JobError("no_face_in_source", "no face") if status is JobStatus.FAILED else None,
        batch_id=batch_id,
    )


# ---- acceptance -------------------------------------------------------------------------------------


def test_GIVEN_three_jobs_with_defaults_WHEN_accepted_THEN_one_runner_starts_with_the_provider_limits() -> None:
    svc, repo, runner, _ = make_service()
    body = {"defaults": {"source_image": IMAGE, "output_format": "png"}, "jobs": [{"target_image": IMAGE}] * 3}

    batch, created = svc.accept("t", body)

    assert created and batch.total == 3 and str(batch.status) == "queued"
    ((name, payload),) = runner.started
    assert name == batch.id and payload["max_concurrency"] == 16
    assert payload["jobs"] == [m.job_id for m in repo.members(batch.id)]
    assert json.loads(repo.request(batch.id, payload["jobs"][2]))["output_format"] == "png"
    assert svc.view(batch)["counts"] == {
        "queued": 3,
        "processing": 0,
        "completed": 0,
        "failed": 0,
        "cancelled": 0,
        "total": 3,
    }


def test_GIVEN_a_batch_with_bad_jobs_WHEN_accepted_THEN_every_problem_is_listed_and_nothing_is_stored() -> None:
    svc, repo, runner, _ = make_service()
    body = {
        "jobs": [
            {"source_image": IMAGE, "target_image": IMAGE},
            {"source_image": IMAGE},
            "not an object",
            {"source_image": IMAGE, "target_image": IMAGE, "provider": "akool"},
            {"source_image": IMAGE, "target_image": IMAGE, "output_format": "gif"},
        ]
    }

    with pytest.raises(BatchInvalidError) as caught:
        svc.accept("t", body)

    paths = [e["path"] for e in caught.value.errors]
    assert paths == ["jobs[1].target_image", "jobs[2]", "jobs[4].output_format", "jobs[3].provider"]
    assert "SWAPFLOW_AKOOL_API_KEY" in caught.value.errors[-1]["message"]
    assert not repo.batches and not runner.started


@pytest.mark.parametrize(
    ("body", "path"),
    [([], ""), ({"jobs": []}, "jobs"), ({"jobs": [{}] * 3}, "jobs"), ({"jobs": [{}], "extra": 1}, "extra")],
)
def test_GIVEN_a_malformed_batch_body_WHEN_accepted_THEN_refused_naming_where(body: Any, path: str) -> None:
    svc, *_ = make_service(max_batch_jobs=2)
    with pytest.raises(BatchInvalidError) as caught:
        svc.accept("t", body)
    assert caught.value.errors[0]["path"] == path


def test_GIVEN_wavespeed_lowest_tier_WHEN_limits_computed_THEN_two_slots() -> None:
    limits = ProviderLimits(Settings().provider_concurrency)

    assert limits.for_providers(["wavespeed-pro"]) == 2
    assert limits.for_providers(["engine"]) == 16
    assert limits.for_providers(["engine", "wavespeed-akool"]) == 2  # a mix runs under the strictest
    assert limits.for_providers(["something-new"]) == 2  # "*"


def test_GIVEN_limits_as_settings_WHEN_read_from_env_THEN_pairs_parse_and_nonsense_fails_loudly() -> None:
    env = {"SWAPFLOW_PROVIDER_CONCURRENCY": "engine=4,*=1", "SWAPFLOW_PROVIDER_RATE_PER_MINUTE": "engine=120"}
    settings = Settings.from_env(env)
    assert ProviderLimits(settings.provider_concurrency).for_providers(["engine"]) == 4
    assert settings.provider_rate_per_minute == (("engine", 120.0),)
    with pytest.raises(ValueError, match="SWAPFLOW_PROVIDER_CONCURRENCY"):
        Settings.from_env({"SWAPFLOW_PROVIDER_CONCURRENCY": "engine:4"})


# ---- ids and manifests ------------------------------------------------------------------------------


def test_GIVEN_the_same_seed_WHEN_ids_derived_THEN_they_repeat_look_like_ulids_and_sort_by_index() -> None:
    ids = [derived_id("s3://b/inbox/a.json#v1", 1_800_000_000.0, i) for i in range(3)]

    assert ids == [derived_id("s3://b/inbox/a.json#v1", 1_800_000_000.0, i) for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert all(len(i) == 26 and set(i) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for i in ids)
    assert derived_id("s3://b/inbox/a.json#v2", 1_800_000_000.0) != ids[0]


def test_GIVEN_a_manifest_key_WHEN_located_THEN_answers_go_to_the_outbox_beside_it() -> None:
    loc = ManifestLocation("in", "inbox/shoots/day1.json", "v1")

    assert loc.outbox(RESULT) == "outbox/shoots/day1.result.json"
    assert loc.outbox(ERROR) == "outbox/shoots/day1.error.json"
    assert loc.outbox(OUTPUTS) == "outbox/shoots/day1/"
    assert loc.folder == "inbox/shoots/"
    assert loc.resolve("photos/a.jpg", "source_image") == "s3://in/inbox/shoots/photos/a.jpg"
    assert loc.resolve("photos/../b.jpg", "source_image") == "s3://in/inbox/shoots/b.jpg"
    assert loc.resolve(IMAGE, "source_image") == IMAGE


@pytest.mark.parametrize("ref", ["../b.jpg", "/shared/c.jpg", "../../../etc.jpg", "../shoots2/a.jpg", ".", ""])
def test_GIVEN_a_manifest_path_outside_its_folder_WHEN_resolved_THEN_refused(ref: str) -> None:
    with pytest.raises(RequestInvalidError, match="outside the manifest's folder") as caught:
        ManifestLocation("in", "inbox/shoots/day1.json", "v1").resolve(ref, "target_image")
    assert caught.value.field == "target_image"


def test_GIVEN_manifest_s3_refs_elsewhere_in_the_bucket_WHEN_received_THEN_refused_like_missing_objects() -> None:
    svc, repo, runner, jobs = make_service()
    jobs.blobs.put(INPUT, "inbox/s/a.jpg", JPEG, "image/jpeg")
    jobs.blobs.put(INPUT, "uploads/other-tenant/01ABCDEFGHJK/face.jpg", JPEG, "image/jpeg")
    jobs.blobs.put(INPUT, "inputs/other-tenant/01ABCDEFGHJK/source.jpg", JPEG, "image/jpeg")
    manifest = {
        "defaults": {"source_image": "a.jpg"},
        "jobs": [
            {"target_image": f"s3://{INPUT}/uploads/other-tenant/01ABCDEFGHJK/face.jpg"},
            {"target_image": f"s3://{INPUT}/inputs/other-tenant/01ABCDEFGHJK/source.jpg"},
            {"target_image": f"s3://{INPUT}/inbox/s/missing.jpg"},
        ],
    }
    jobs.blobs.put(INPUT, "inbox/s/m.json", json.dumps(manifest).encode(), "application/json")

    assert svc.accept_manifest(ManifestLocation(INPUT, "inbox/s/m.json", "v1"), at=1.0) is None

    errors = json.loads(jobs.blobs.get(INPUT, "outbox/s/m.error.json"))["errors"]
    assert [e["path"] for e in errors] == [f"jobs[{i}].target_image" for i in range(3)]
    assert len({e["message"] for e in errors}) == 1  # foreign and missing objects: the same answer
    assert not repo.batches and not runner.started


def test_GIVEN_one_job_request_WHEN_parsed_as_a_manifest_THEN_it_is_a_batch_of_one() -> None:
    assert parse_manifest(b'{"source_image": "a.jpg", "target_image": "b.jpg"}') == {
        "jobs": [{"source_image": "a.jpg", "target_image": "b.jpg"}]
    }
    with pytest.raises(RequestInvalidError, match="not valid JSON"):
        parse_manifest(b"{nope")


def test_GIVEN_a_manifest_with_a_missing_key_WHEN_received_THEN_error_json_lists_it_and_no_batch() -> None:
    svc, repo, runner, jobs = make_service()
    jobs.blobs.put(INPUT, "inbox/s/a.jpg", JPEG, "image/jpeg")
    manifest = {"defaults": {"source_image": "a.jpg"}, "jobs": [{"target_image": "a.jpg"}, {"target_image": "b.jpg"}]}
    jobs.blobs.put(INPUT, "inbox/s/m.json", json.dumps(manifest).encode(), "application/json")

    assert svc.accept_manifest(ManifestLocation(INPUT, "inbox/s/m.json", "v1"), at=1.0) is None

    error = json.loads(jobs.blobs.get(INPUT, "outbox/s/m.error.json"))
    assert error["manifest"]["key"] == "inbox/s/m.json"
    assert error["errors"] == [
        {
            "path": "jobs[1].target_image",
            "message": "no such object among yours (never uploaded, expired, or not yours)",
        }
    ]
    assert not repo.batches and not runner.started


# ---- the tracker: counts once, completes once --------------------------------------------------------


def test_GIVEN_a_manifest_batch_WHEN_jobs_end_twice_and_concurrently_THEN_counted_once_and_one_event() -> None:
    svc, repo, _, jobs = make_service()
    loc = ManifestLocation(INPUT, "inbox/d.json", "v1")
    body = {"jobs": [{"source_image": IMAGE, "target_image": IMAGE}] * 8}
    batch, _ = svc.accept("t", body, manifest=loc)
    members = repo.members(batch.id)
    for m in members:
        repo.set_token(batch.id, m.job_id, f"token-{m.index}")
    out = Output("archive", "outputs/t/x/0.png", "image/png", 8, 8, 4, "0" * 64)
    jobs.blobs.put("archive", out.key, b"png!", "image/png")
    tracker = svc.tracker
    ended = [
        job_of(batch.id, m.job_id, JobStatus.FAILED if m.index == 3 else JobStatus.COMPLETED, [out]) for m in members
    ]
    tracker.job_changed(job_of(batch.id, members[0].job_id, JobStatus.PROCESSING))

    threads = [threading.Thread(target=tracker.job_changed, args=(job,)) for job in ended + ended]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    final = repo.get(batch.id)
    assert final.counts_view() == {
        "queued": 0,
        "processing": 0,
        "completed": 7,
        "failed": 1,
        "cancelled": 0,
        "total": 8,
    }
    events = [d for t, d in tracker.events.published if t == BATCH_COMPLETED]  # type: ignore[attr-defined]
    assert len(events) == 1 and events[0]["batch"]["counts"]["failed"] == 1
    assert events[0]["result"] == {"bucket": INPUT, "key": "outbox/d.result.json"}
    result = json.loads(jobs.blobs.get(INPUT, "outbox/d.result.json"))
    assert result["status"] == "completed" and [j["index"] for j in result["jobs"]] == list(range(8))
    assert result["jobs"][0]["outputs"][0]["key"] == f"outbox/d/{members[0].job_id}.png"
    assert jobs.blobs.get(INPUT, f"outbox/d/{members[0].job_id}.png") == b"png!"
    assert result["jobs"][3]["error"]["code"] == "no_face_in_source"
    assert set(tracker.workflow.released) >= {f"token-{i}" for i in range(8)}  # type: ignore[attr-defined]


# ---- issue 11: all-or-nothing image values, re-delivered manifests, stale runner inputs --------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nope", "must be an https URL, a data: URI or an upload ref"),
        ("https://down.example/a.jpg", "connection failed"),
        ("data:image/jpeg;base64,aGVsbG8=", "image"),
        (f"s3://{INPUT}/uploads/other/01ABCDEFGHJK/a.jpg", "not yours"),
    ],
)
def test_GIVEN_a_bad_image_value_WHEN_a_batch_is_posted_THEN_refused_now_like_post_v1_jobs(target, message) -> None:
    svc, repo, runner, jobs = make_service()
    jobs.blobs.put(INPUT, "uploads/other/01ABCDEFGHJK/a.jpg", JPEG, "image/jpeg")
    body = {"defaults": {"source_image": IMAGE}, "jobs": [{"target_image": IMAGE}, {"target_image": target}]}

    with pytest.raises(BatchInvalidError) as caught:
        svc.accept("t", body)

    ((error,),) = [caught.value.errors]
    assert error["path"] == "jobs[1].target_image" and message in error["message"]
    assert not repo.batches and not runner.started


def test_GIVEN_a_batch_of_uploads_WHEN_posted_THEN_each_stored_object_is_checked_with_a_head_only() -> None:
    svc, _repo, _, jobs = make_service()
    jobs.blobs.put(INPUT, "uploads/t/01ABCDEFGHJK/a.jpg", JPEG, "image/jpeg")

    batch, created = svc.accept("t", {"jobs": [{"source_image": "upload:01ABCDEFGHJK/a.jpg", "target_image": IMAGE}]})

    assert created and batch.total == 1


def test_GIVEN_a_manifest_delivered_again_WHEN_accepted_THEN_the_same_jobs_run_and_nothing_is_recorded_twice() -> None:
    """The batch id is held for the manifest version; its job ids derive from the stored batch, not the event."""
    svc, repo, runner, jobs = make_service()
    body = {"jobs": [{"source_image": IMAGE, "target_image": IMAGE}]}
    first, _ = svc.accept("t", body, batch_id="01BATCH")
    recorded = dict(jobs.repo.jobs)
    runner.started.clear()

    again, created = svc.accept("t", body, batch_id="01BATCH")

    assert not created and again.id == first.id
    ((_, payload),) = runner.started
    assert payload["jobs"] == [m.job_id for m in repo.members("01BATCH")] == list(recorded)
    assert jobs.repo.jobs == recorded


def test_GIVEN_a_runner_input_naming_no_member_WHEN_run_THEN_its_slot_is_released_and_nothing_starts() -> None:
    svc, _repo, _, _jobs = make_service()
    svc.accept("t", {"jobs": [{"source_image": IMAGE, "target_image": IMAGE}]}, batch_id="01BATCH")

    svc.run_item("01BATCH", "01NOTAMEMBER", "token-9")  # no ConditionalCheckFailedException escapes

    assert svc.tracker.workflow.released == ["token-9"]


def test_GIVEN_an_accepted_batch_WHEN_viewed_with_and_without_jobs_THEN_each_view_is_the_documented_batch() -> None:
    from swapflow.api_models import Batch as BatchAnswer

    svc, _, _, _ = make_service()
    batch, _ = svc.accept("t", {"defaults": {"source_image": IMAGE}, "jobs": [{"target_image": IMAGE}] * 2})

    full = BatchAnswer.model_validate(svc.view(batch))  # extra="forbid": no undocumented field either
    assert full.jobs is not None and [j.index for j in full.jobs] == [0, 1]
    assert BatchAnswer.model_validate(svc.view(batch, with_jobs=False)).counts.total == 2
