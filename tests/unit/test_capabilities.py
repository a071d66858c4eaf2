"""Requests a provider cannot serve are refused at submit (DESIGN 3), on every way in; `auto` skips such
providers. The real JobService and BatchService on the in-memory fakes."""

from __future__ import annotations

from typing import Any

import pytest
from native_fakes import make_service
from swapflow.http_errors import describe
from swapflow.jobs.exceptions import BatchInvalidError, RequestInvalidError
from swapflow.providers.base import Submission, SwapRequest
from swapflow.settings import Settings
from test_batches import IMAGE
from test_batches import make_service as make_batch_service

BODY = {"source_image": "https://img.example/a.jpg", "target_image": "https://img.example/b.jpg"}
NAMES = ("engine", "akool", "wavespeed-pro", "wavespeed-akool", "auto")


class RecordingProvider:
    """Takes every job (so only the chain's choice decides who gets one) and remembers it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.submitted: list[SwapRequest] = []

    def submit(self, request: SwapRequest) -> Submission:
        self.submitted.append(request)
        return Submission(f"{self.name}-{request.job_id}")


def service(auto: tuple[str, ...] = ("akool", "wavespeed-pro", "wavespeed-akool", "engine"), **kw: Any) -> Any:
    providers = {name: RecordingProvider(name) for name in NAMES}
    settings = Settings(archive_bucket="archive", input_bucket="inputs", auto_providers=auto)
    svc = make_service(settings=settings, providers=providers.__getitem__, provider_names=NAMES, **kw)
    return svc, providers


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "wavespeed-pro", "target_index": 1}, "target_index"),
        (
            {"provider": "wavespeed-akool", "faces": [{"source_image": "https://img.example/c.jpg", "target_face": 0}]},
            "faces",
        ),
        ({"provider": "auto", "target_index": 0}, "target_index"),  # no provider of this chain takes one
    ],
)
def test_given_a_request_its_provider_cannot_serve_when_parsed_then_422_naming_the_field_and_no_job(body, field):
    svc, _ = service(auto=("wavespeed-pro", "wavespeed-akool"))

    with pytest.raises(RequestInvalidError) as caught:
        svc.intake.create_job("acme", svc.intake.parse({**BODY, **body}))

    status, answer = describe(caught.value)
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (422, "unsupported_by_provider", field)
    assert "akool, engine" in answer["error"]["message"]  # the providers that can
    assert not svc.repo.jobs and not svc.workflow.started


def test_given_auto_and_a_face_index_when_submitted_then_the_chain_skips_providers_without_target_index() -> None:
    svc, providers = service(auto=("wavespeed-pro", "wavespeed-akool", "engine"))
    job = svc.intake.create_job("acme", svc.intake.parse({**BODY, "provider": "auto", "target_index": 0}))

    step = svc.lifecycle.submit_to_provider(svc.repo.get(job.id))

    assert step.state == "running"
    assert [len(providers[n].submitted) for n in ("wavespeed-pro", "wavespeed-akool", "engine")] == [0, 0, 1]
    assert svc.repo.get(job.id).provider == "engine"


def test_given_a_batch_with_a_job_its_provider_cannot_serve_when_accepted_then_that_job_is_named_and_none_stored():
    svc, repo, runner, _ = make_batch_service()
    good = {"source_image": IMAGE, "target_image": IMAGE}

    with pytest.raises(BatchInvalidError) as caught:
        svc.accept("t", {"jobs": [good, {**good, "provider": "wavespeed-pro", "target_index": 2}]})

    ((error),) = caught.value.errors
    assert error["path"] == "jobs[1].target_index" and "target_index" in error["message"]
    assert not repo.batches and not runner.started
