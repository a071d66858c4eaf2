"""`Prefer: wait=N` and `Cancel-After` on POST /v1/jobs: how they are read and what they do to a job."""

from __future__ import annotations

import pytest
from native_fakes import Clock, FakeWorkflow, make_service
from swapflow.jobs.exceptions import RequestInvalidError
from swapflow.jobs.validation import MAX_WAIT_SECONDS, cancel_after, prefer_wait, with_header_options
from swapflow.providers.base import ProviderResult, ProviderState, Submission

BODY = {"source_image": "https://img.example/a.jpg", "target_image": "https://img.example/b.jpg"}


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("wait=10", 10.0),
        ("respond-async, wait=7", 7.0),
        ("Wait = 3", 3.0),
        ("wait=600", float(MAX_WAIT_SECONDS)),
        ("wait=soon", None),
        ("respond-async", None),
        (None, None),
    ],
)
def test_given_a_prefer_header_when_read_then_the_wait_it_asks_for_capped(header, wait) -> None:
    assert prefer_wait(header) == wait


@pytest.mark.parametrize(("header", "seconds"), [("90", 90), ("1m30s", 90), ("2h", 7200), ("1.5s", 2), (None, None)])
def test_given_a_cancel_after_header_when_read_then_seconds(header, seconds) -> None:
    assert cancel_after(header, 86_400) == seconds


@pytest.mark.parametrize("header", ["0", "", "soon", "-5", "3601", "1m30"])
def test_given_a_bad_or_too_long_cancel_after_when_read_then_refused_naming_the_header(header) -> None:
    with pytest.raises(RequestInvalidError) as info:
        cancel_after(header, 3600)
    assert info.value.field == "Cancel-After"


def test_given_prefer_wait_and_a_body_wait_when_applied_then_the_body_wins_and_no_preference_is_applied() -> None:
    svc = make_service()
    request, applied = with_header_options(
        svc.intake.parse({**BODY, "wait": 2}), {**BODY, "wait": 2}, prefer="wait=20", deadline=None, max_deadline=900
    )
    assert (request.wait, applied) == (2.0, None)
    request, applied = with_header_options(
        svc.intake.parse(BODY), BODY, prefer="wait=20", deadline=None, max_deadline=900
    )
    assert (request.wait, applied) == (20.0, 20.0)


class SlowProvider:
    name = "engine"

    def __init__(self) -> None:
        self.cancelled: list[str] = []

    def submit(self, request: object) -> Submission:
        return Submission("p1")

    def poll(self, provider_job_id: str) -> ProviderResult:
        return ProviderResult(ProviderState.RUNNING)

    def cancel(self, provider_job_id: str) -> bool:
        self.cancelled.append(provider_job_id)
        return True


def test_given_cancel_after_when_the_provider_runs_past_it_then_the_job_fails_provider_timeout_on_time() -> None:
    clock, provider, workflow = Clock(1000.0), SlowProvider(), FakeWorkflow()
    svc = make_service(clock=clock, providers=lambda name: provider, workflow=workflow)
    request, _ = with_header_options(svc.intake.parse(BODY), BODY, prefer=None, deadline="5", max_deadline=900)
    job = svc.intake.create_job("acme", request)
    assert workflow.inputs[job.id]["wait"] <= 5  # the first pass looks again by the deadline at the latest

    assert svc.lifecycle.submit_to_provider(svc.repo.get(job.id)).state == "running"
    clock.sleep(4)
    assert svc.lifecycle.poll_status(svc.repo.get(job.id)).state == "running"
    clock.sleep(1)
    step = svc.lifecycle.poll_status(svc.repo.get(job.id))
    assert step.state == "failed" and step.error and step.error["code"] == "provider_timeout"
    assert provider.cancelled == ["p1"]  # the provider was asked to stop too
