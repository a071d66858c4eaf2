"""Each step of a job's life after intake (jobs/lifecycle.py, jobs/plan.py, jobs/callbacks.py) on fakes:
the `auto` fallback chain, provider slots, Retry-After, the poll plan and its deadline, and callbacks
that come twice or too late. The state machine around these steps is tested end to end (tests/e2e)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from batch_fakes import JPEG
from native_fakes import Clock, Rig, make_service
from swapflow.jobs.inputs import InputLoader
from swapflow.jobs.limits import LeaseState, ProviderGate, ProviderSlotBusyError
from swapflow.jobs.models import Job, JobStatus, StoredImage, SwapSpec
from swapflow.jobs.plan import PollPlan
from swapflow.net import FetchPolicy
from swapflow.providers.base import (
    ProviderOutput,
    ProviderResult,
    ProviderState,
    Submission,
    SwapRequest,
    WebhookNotice,
)
from swapflow.providers.exceptions import (
    ProviderBusyError,
    ProviderError,
    ProviderUnavailableError,
    WebhookRejectedError,
)
from swapflow.settings import Settings

from tests.shared.fakes import FakeBlobs

IMAGE = StoredImage("inputs", "inputs/acme/j/source.jpg", "image/jpeg", 64, 64)
DONE = ProviderResult(ProviderState.SUCCEEDED, (ProviderOutput(bucket="out", key="result.jpg"),))
FAILED = {"state": "failed", "outputs": [], "failure": {"code": "no_face_in_source", "message": "no face"}}


class ScriptedProvider:
    """A provider whose answers the test writes: `submits`/`polls` are raised if exceptions, else returned."""

    def __init__(self, name: str, *, submits: list[Any] | None = None, polls: list[Any] | None = None) -> None:
        self.name = name
        self.submits = submits or [Submission(f"{name}-1")]
        self.polls = polls or [ProviderResult(ProviderState.RUNNING)]
        self.submitted: list[SwapRequest] = []
        self.polled: list[str] = []
        self.cancelled: list[str] = []

    @staticmethod
    def _answer(script: list[Any]) -> Any:
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def submit(self, request: SwapRequest) -> Submission:
        self.submitted.append(request)
        return self._answer(self.submits)  # type: ignore[no-any-return]

    def poll(self, provider_job_id: str) -> ProviderResult:
        self.polled.append(provider_job_id)
        return self._answer(self.polls)  # type: ignore[no-any-return]

    def cancel(self, provider_job_id: str) -> bool:
        self.cancelled.append(provider_job_id)
        return True

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookNotice:
        if headers.get("x-signature") != "good":
            raise WebhookRejectedError("bad signature")
        provider_job_id, _, state = body.decode().partition(":")
        result = DONE if state == "done" else ProviderResult(ProviderState.RUNNING)
        return WebhookNotice(provider_job_id, result, delivery_id=state, duplicate=headers.get("x-again") == "1")


class MemoryLeases:
    """LeaseStore in memory, for the real ProviderGate."""

    def __init__(self) -> None:
        self.states: dict[str, tuple[LeaseState, int]] = {}

    def read(self, provider: str) -> tuple[LeaseState, int]:
        return self.states.get(provider, (LeaseState(), 0))

    def swap(self, provider: str, state: LeaseState, version: int) -> tuple[LeaseState, int] | None:
        if self.read(provider)[1] != version:
            return self.read(provider)
        self.states[provider] = (state, version + 1)
        return None

    def release(self, provider: str, job_id: str) -> None:
        state, version = self.read(provider)
        leases = {k: v for k, v in state.leases.items() if k != job_id}
        self.states[provider] = (LeaseState(leases, state.starts), version + 1)


def rig(*providers: ScriptedProvider, concurrency: int = 1, rate: int = 0, **settings: Any) -> tuple[Rig, ProviderGate]:
    clock = Clock()
    by_name = {p.name: p for p in providers}

    def factory(name: str) -> ScriptedProvider:
        if name not in by_name:
            raise ProviderUnavailableError(name, f"SWAPFLOW_{name.upper()}_API_KEY")
        return by_name[name]

    gate = ProviderGate(
        MemoryLeases(), concurrency=[("*", concurrency)], rate_per_minute=[("*", rate)], lease_seconds=1000, clock=clock
    )
    blobs = FakeBlobs()
    blobs.put("out", "result.jpg", JPEG, "image/jpeg")
    inputs = InputLoader(blobs, input_bucket="inputs", policy=FetchPolicy(), max_pixels=40_000_000, max_bytes=1 << 24)
    config = {"archive_bucket": "archive", "input_bucket": "inputs", "engine_callback": False, **settings}
    svc = make_service(
        settings=Settings(**config), providers=factory, blobs=blobs, inputs=inputs, gate=gate, clock=clock
    )
    return svc, gate


def queued(svc: Rig, provider: str, **job: Any) -> Job:
    now = svc.clock()
    record = Job(id="01JOB", tenant="acme", provider=provider, spec=SwapSpec(IMAGE, IMAGE), created_at=now, **job)
    svc.repo.put_new(record)
    return svc.repo.get(record.id)


def events(svc: Rig) -> list[str]:
    return [detail_type for detail_type, _ in svc.events.published]


# ---- submit: the `auto` chain and provider slots ----------------------------------------------------


def test_GIVEN_auto_WHEN_the_first_is_out_of_quota_and_the_second_has_no_slot_THEN_the_third_takes_the_job() -> None:
    akool = ScriptedProvider("akool", submits=[ProviderError("provider_quota", "out of credits")])
    pro, engine = ScriptedProvider("wavespeed-pro"), ScriptedProvider("engine")
    svc, gate = rig(akool, pro, engine, auto_providers=("akool", "wavespeed-pro", "engine"))
    gate.acquire("wavespeed-pro", "another-job")  # its one slot is taken

    step = svc.lifecycle.submit_to_provider(queued(svc, "auto"))

    job = svc.repo.get("01JOB")
    assert step.state == "running" and (job.status, job.provider, job.provider_job_id) == (
        JobStatus.PROCESSING,
        "engine",
        "engine-1",
    )
    assert len(akool.submitted) == 1 and pro.submitted == []
    assert gate.held("akool") == {} and set(gate.held("engine")) == {"01JOB"}  # the refused slot went back


def test_GIVEN_auto_WHEN_every_provider_is_busy_or_full_THEN_the_pass_is_retried_later_holding_no_slot() -> None:
    akool = ScriptedProvider("akool", submits=[ProviderBusyError("429", retry_after=5)])
    svc, gate = rig(akool, ScriptedProvider("engine"), auto_providers=("akool", "engine"))
    gate.acquire("engine", "another-job")

    with pytest.raises((ProviderBusyError, ProviderSlotBusyError)):  # both retried by the state machine
        svc.lifecycle.run_step(queued(svc, "auto").id, "token-1")

    assert svc.repo.get("01JOB").status is JobStatus.QUEUED and gate.held("akool") == {}
    assert svc.workflow.succeeded == [] and events(svc) == []


def test_GIVEN_auto_WHEN_a_provider_fails_the_job_itself_THEN_the_chain_stops_there() -> None:
    akool = ScriptedProvider("akool", submits=[ProviderError("no_face_in_source", "no face", "1003")])
    engine = ScriptedProvider("engine")
    svc, _gate = rig(akool, engine, auto_providers=("akool", "engine"))

    job = svc.lifecycle.run_step(queued(svc, "auto").id, "token-1")

    assert job.status is JobStatus.FAILED and job.error is not None
    assert (job.error.code, job.error.provider_code) == ("no_face_in_source", "1003") and engine.submitted == []
    assert events(svc) == ["Swap Job Failed"] and svc.workflow.succeeded[0][0] == "token-1"


def test_GIVEN_auto_WHEN_no_provider_of_the_chain_is_configured_THEN_refused_naming_the_setting() -> None:
    svc, _ = rig(ScriptedProvider("engine"), auto_providers=("akool", "wavespeed-pro"))

    with pytest.raises(ProviderUnavailableError, match="SWAPFLOW_AKOOL_API_KEY"):
        svc.intake.available_providers("auto")


def test_GIVEN_a_named_provider_out_of_quota_WHEN_submitted_THEN_the_job_fails_without_fallback() -> None:
    akool = ScriptedProvider("akool", submits=[ProviderError("provider_quota", "out of credits")])
    engine = ScriptedProvider("engine")
    svc, gate = rig(akool, engine, auto_providers=("akool", "engine"))

    step = svc.lifecycle.submit_to_provider(queued(svc, "akool"))

    assert step.state == "failed" and step.error is not None and step.error["code"] == "provider_quota"
    assert engine.submitted == [] and gate.held("akool") == {}


def test_GIVEN_a_provider_at_its_rate_limit_WHEN_the_pass_runs_THEN_slot_busy_says_when_a_start_frees() -> None:
    engine = ScriptedProvider("engine")
    svc, gate = rig(engine, concurrency=5, rate=1)
    gate.acquire("engine", "earlier-job")
    svc.clock.now += 20

    with pytest.raises(ProviderSlotBusyError) as busy:
        svc.lifecycle.run_step(queued(svc, "engine").id, "token-1")

    assert busy.value.retry_after == pytest.approx(61 - 20)  # the start leaves the window then (plus margin)
    assert engine.submitted == [] and svc.repo.get("01JOB").status is JobStatus.QUEUED


def test_GIVEN_a_busy_provider_with_retry_after_WHEN_submitted_THEN_its_hint_reaches_the_state_machine() -> None:
    engine = ScriptedProvider("engine", submits=[ProviderBusyError("429", retry_after=7), Submission("engine-1")])
    svc, gate = rig(engine)
    job = queued(svc, "engine")

    with pytest.raises(ProviderBusyError) as busy:
        svc.lifecycle.run_step(job.id, "token-1")
    assert busy.value.retry_after == 7 and gate.held("engine") == {}  # the slot is not held while waiting

    svc.lifecycle.run_step(job.id, "token-2")  # the retried pass
    assert svc.repo.get(job.id).provider_job_id == "engine-1" and svc.repo.tokens[job.id] == "token-2"


def test_GIVEN_a_pass_retried_after_the_submit_WHEN_it_runs_again_THEN_the_provider_is_not_asked_twice() -> None:
    engine = ScriptedProvider("engine")
    svc, _ = rig(engine)
    job = queued(svc, "engine")

    svc.lifecycle.submit_to_provider(job)
    step = svc.lifecycle.submit_to_provider(svc.repo.get(job.id))

    assert step.state == "running" and len(engine.submitted) == 1


class SlowProvider(ScriptedProvider):
    """Submits while another Run pass of the same job starts (its task timed out meanwhile)."""

    def __init__(self, name: str, overlap: Any) -> None:
        super().__init__(name)
        self.overlap = overlap
        self.overlapped: list[Any] = []

    def submit(self, request: SwapRequest) -> Submission:
        if not self.overlapped:
            self.overlapped.append(self.overlap())
        return super().submit(request)


def test_GIVEN_a_pass_still_submitting_WHEN_the_retried_pass_runs_THEN_the_provider_gets_the_job_once() -> None:
    holder: dict[str, Any] = {}

    def retried_pass() -> Job:  # starts once the first pass's task timed out: later
        holder["svc"].clock.now += 30
        return holder["svc"].lifecycle.run_step("01JOB", "token-2")

    engine = SlowProvider("engine", retried_pass)
    svc, gate = rig(engine)
    holder["svc"] = svc
    job = queued(svc, "engine")

    svc.lifecycle.run_step(job.id, "token-1")

    assert len(engine.submitted) == 1  # the second pass found the hand-over claimed and waited for it
    assert engine.overlapped[0].status is JobStatus.QUEUED
    assert svc.repo.get(job.id).provider_job_id == "engine-1"
    # the first pass's late token does not replace the live one: the engine's completion wakes the retried pass
    assert svc.repo.tokens[job.id] == "token-2" and set(gate.held("engine")) == {job.id}


def test_GIVEN_a_claim_left_by_a_pass_that_died_WHEN_it_is_stale_THEN_the_next_pass_submits() -> None:
    engine = ScriptedProvider("engine")
    svc, _ = rig(engine)
    job = queued(svc, "engine")
    assert svc.repo.claim_submit(job.id, "token-dead", svc.clock.now, 0)

    assert svc.lifecycle.submit_to_provider(job, owner="token-2").state == "running"
    assert engine.submitted == []  # the claim is live: nothing sent
    svc.clock.now += 61
    svc.lifecycle.submit_to_provider(job, owner="token-3")
    assert len(engine.submitted) == 1 and svc.repo.get(job.id).provider_job_id == "engine-1"


def test_GIVEN_a_provider_that_answered_busy_WHEN_the_retried_pass_runs_THEN_it_submits_at_once() -> None:
    engine = ScriptedProvider("engine", submits=[ProviderBusyError("503"), Submission("engine-1")])
    svc, _ = rig(engine)
    job = queued(svc, "engine")

    with pytest.raises(ProviderBusyError):
        svc.lifecycle.submit_to_provider(job, owner="token-1")
    svc.lifecycle.submit_to_provider(job, owner="token-2")  # no wait for the first pass's claim

    assert len(engine.submitted) == 2 and svc.repo.get(job.id).provider_job_id == "engine-1"


# ---- poll: the plan, Retry-After, the deadline ------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "public_url", "deadline_seconds", "wait"),
    [
        ("wavespeed-pro", "", None, 2),  # nothing calls back: the poll interval
        ("wavespeed-pro", "https://hooks.example", None, 30),  # the provider calls back: wait long
        ("engine", "", None, 30),  # the engine calls back
        ("wavespeed-pro", "https://hooks.example", 10, 10),  # never past the job's own Cancel-After
    ],
)
def test_GIVEN_a_job_WHEN_its_poll_plan_is_made_THEN_each_pass_waits_for_a_callback_or_polls_soon(
    provider: str, public_url: str, deadline_seconds: int | None, wait: int
) -> None:
    job = Job(
        id="01JOB",
        tenant="acme",
        provider=provider,
        spec=SwapSpec(IMAGE, IMAGE, deadline_seconds=deadline_seconds),
        created_at=1000.0,
    )

    plan = PollPlan.of(job, Settings(), public_url=public_url, now=1000.0)

    assert plan.wait == wait and plan.deadline == 1000.0 + (deadline_seconds or 900)


def test_GIVEN_a_batch_job_whose_turn_comes_late_WHEN_its_workflow_starts_THEN_it_gets_the_full_wait() -> None:
    # a job of a 10,000-job manifest, accepted 20 minutes before its turn: its provider time starts now
    job = Job(id="01JOB", tenant="acme", provider="wavespeed-pro", spec=SwapSpec(IMAGE, IMAGE), created_at=0.0)

    plan = PollPlan.of(job, Settings(), public_url="https://hooks.example", now=1200.0)

    assert plan.wait == 30 and plan.deadline == 1200.0 + 900 and not plan.expired(1200.0)


def test_GIVEN_a_job_started_late_WHEN_planned_THEN_its_deadline_counts_from_the_submit_and_caps_the_wait() -> None:
    job = Job(
        id="01JOB", tenant="acme", provider="engine", spec=SwapSpec(IMAGE, IMAGE), created_at=0.0, submitted_at=100.0
    )

    plan = PollPlan.of(job, Settings(job_deadline_seconds=60), public_url="", now=155.0)

    assert plan.deadline == 160.0 and plan.wait == 5 and not plan.expired(159.9) and plan.expired(160.0)


def test_GIVEN_a_running_job_WHEN_the_provider_answers_busy_on_a_poll_THEN_it_stays_open_for_the_next_pass() -> None:
    pro = ScriptedProvider("wavespeed-pro", polls=[ProviderBusyError("429", retry_after=12), DONE])
    svc, _ = rig(pro)
    job = queued(svc, "wavespeed-pro")
    svc.lifecycle.run_step(job.id, "token-1")

    busy = svc.lifecycle.run_step(job.id, "token-2")  # the wait timed out: a poll
    assert busy.status is JobStatus.PROCESSING and svc.repo.tokens[job.id] == "token-2" and events(svc) == []

    done = svc.lifecycle.run_step(job.id, "token-3")
    assert done.status is JobStatus.COMPLETED and events(svc) == ["Swap Job Completed"]
    assert pro.polled == ["wavespeed-pro-1", "wavespeed-pro-1"] and svc.workflow.succeeded[-1][0] == "token-3"


def test_GIVEN_a_job_past_its_deadline_WHEN_polled_THEN_it_fails_timed_out_and_the_provider_is_cancelled() -> None:
    pro = ScriptedProvider("wavespeed-pro")
    svc, gate = rig(pro, job_deadline_seconds=60)
    job = queued(svc, "wavespeed-pro")
    svc.lifecycle.run_step(job.id, "token-1")
    svc.clock.now += 61

    ended = svc.lifecycle.run_step(job.id, "token-2")

    assert ended.status is JobStatus.FAILED and ended.error is not None and ended.error.code == "provider_timeout"
    assert pro.cancelled == ["wavespeed-pro-1"] and pro.polled == []
    assert events(svc) == ["Swap Job Failed"] and gate.held("wavespeed-pro") == {}


def test_GIVEN_a_poll_that_reports_a_failure_WHEN_the_pass_runs_THEN_the_job_fails_with_the_providers_error() -> None:
    pro = ScriptedProvider("wavespeed-pro", polls=[ProviderError("provider_failed", "gpu fault", "500")])
    svc, _ = rig(pro)
    job = queued(svc, "wavespeed-pro")
    svc.lifecycle.run_step(job.id, "token-1")

    ended = svc.lifecycle.run_step(job.id, "token-2")

    assert ended.status is JobStatus.FAILED and ended.error is not None
    assert (ended.error.code, ended.error.provider_code) == ("provider_failed", "500")


# ---- completion: callbacks that come twice or late --------------------------------------------------


def test_GIVEN_a_parked_pass_WHEN_the_callback_completes_the_job_THEN_its_token_is_sent_back_once() -> None:
    svc, gate = rig(ScriptedProvider("engine"))
    job = queued(svc, "engine")
    svc.lifecycle.run_step(job.id, "token-1")

    assert svc.lifecycle.complete_from_provider(job.id, DONE) is True
    assert svc.lifecycle.complete_from_provider(job.id, DONE) is False  # a duplicate changes nothing

    ended = svc.repo.get(job.id)
    assert ended.status is JobStatus.COMPLETED and [o.key for o in ended.outputs] == ["outputs/acme/01JOB/0.jpg"]
    assert events(svc) == ["Swap Job Completed"] and [t for t, _ in svc.workflow.succeeded] == ["token-1"]
    assert gate.held("engine") == {}


def test_GIVEN_a_job_that_timed_out_WHEN_a_late_success_arrives_THEN_it_stays_failed_with_one_event() -> None:
    svc, _ = rig(ScriptedProvider("wavespeed-pro"), job_deadline_seconds=60)
    job = queued(svc, "wavespeed-pro")
    svc.lifecycle.run_step(job.id, "token-1")
    svc.clock.now += 61
    svc.lifecycle.run_step(job.id, "token-2")

    assert svc.lifecycle.complete_from_provider(job.id, DONE) is False

    assert svc.repo.get(job.id).status is JobStatus.FAILED and events(svc) == ["Swap Job Failed"]


def test_GIVEN_a_result_recorded_while_the_pass_ran_WHEN_it_parks_THEN_it_finishes_the_job_itself() -> None:
    svc, _ = rig(ScriptedProvider("wavespeed-pro"))
    job = queued(svc, "wavespeed-pro")
    svc.lifecycle.run_step(job.id, "token-1")
    svc.lifecycle.complete_from_provider(job.id, ProviderResult(ProviderState.RUNNING))  # progress: ignored
    svc.repo.results[job.id] = FAILED  # recorded by a callback after this pass polled

    ended = svc.lifecycle.run_step(job.id, "token-2")

    assert ended.status is JobStatus.FAILED and ended.error is not None and ended.error.code == "no_face_in_source"
    assert events(svc) == ["Swap Job Failed"] and svc.workflow.succeeded[-1][0] == "token-2"


@pytest.mark.parametrize(
    ("caught", "code"),
    [
        ("States.Timeout", "provider_timeout"),
        ("ProviderBusyError", "provider_failed"),
        ("ProviderSlotBusyError", "provider_failed"),
        ("Lambda.Unknown", "internal"),
    ],
)
def test_GIVEN_an_error_the_workflow_caught_WHEN_recorded_THEN_the_job_fails_with_its_job_error(
    caught: str, code: str
) -> None:
    svc, _ = rig(ScriptedProvider("engine"))
    job = queued(svc, "engine")

    ended = svc.lifecycle.fail_from_step(job.id, {"job_id": job.id, "failure": {"Error": caught}})
    again = svc.lifecycle.fail_from_step(job.id, {"job_id": job.id, "failure": {"Error": caught}})

    assert ended.error is not None and ended.error.code == code and again.status is JobStatus.FAILED
    assert events(svc) == ["Swap Job Failed"]


# ---- provider webhooks (jobs/callbacks.py) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "query", "headers", "body", "status", "outcome"),
    [
        ("unknown", "01JOB", {"x-signature": "good"}, b"wavespeed-pro-1:done", 404, "unknown_route"),
        ("wavespeed", "01JOB", {"x-signature": "forged"}, b"wavespeed-pro-1:done", 401, "rejected"),
        ("wavespeed", "01NOSUCHJOB", {"x-signature": "good"}, b"wavespeed-pro-1:done", 200, "unknown_job"),
        ("wavespeed", "01JOB", {"x-signature": "good", "x-again": "1"}, b"wavespeed-pro-1:done", 200, "duplicate"),
        ("wavespeed", "01JOB", {"x-signature": "good"}, b"someone-else:done", 200, "unmatched"),
        ("akool", "01JOB", {"x-signature": "good"}, b"wavespeed-pro-1:done", 200, "foreign"),
    ],
)
def test_GIVEN_a_callback_that_may_not_move_the_job_WHEN_received_THEN_answered_and_nothing_changes(
    route: str, query: str, headers: dict[str, str], body: bytes, status: int, outcome: str
) -> None:
    svc, _ = rig(ScriptedProvider("wavespeed-pro"), ScriptedProvider("akool"))
    job = queued(svc, "wavespeed-pro")
    svc.lifecycle.run_step(job.id, "token-1")

    answer = svc.jobs.callbacks.webhook(route, query, headers, body)

    assert (answer.status, answer.outcome) == (status, outcome)
    assert svc.repo.get(job.id).status is JobStatus.PROCESSING and events(svc) == []


def test_GIVEN_a_callback_before_the_submit_was_recorded_WHEN_received_THEN_409_asks_the_provider_to_retry() -> None:
    svc, _ = rig(ScriptedProvider("wavespeed-pro"))
    queued(svc, "wavespeed-pro")

    answer = svc.jobs.callbacks.webhook("wavespeed", "01JOB", {"x-signature": "good"}, b"wavespeed-pro-1:done")

    assert (answer.status, answer.body["error"]["code"]) == (409, "not_ready")


def test_GIVEN_a_signed_callback_for_the_job_WHEN_received_THEN_the_job_completes_and_the_pass_is_woken() -> None:
    svc, _ = rig(ScriptedProvider("wavespeed-pro"))
    job = queued(svc, "wavespeed-pro")
    svc.lifecycle.run_step(job.id, "token-1")

    answer = svc.jobs.callbacks.webhook("wavespeed", job.id, {"x-signature": "good"}, b"wavespeed-pro-1:done")

    assert (answer.status, answer.outcome, answer.facts["woken"]) == (200, "accepted", True)
    assert svc.repo.get(job.id).status is JobStatus.COMPLETED and events(svc) == ["Swap Job Completed"]
