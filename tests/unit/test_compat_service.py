"""The drop-in surfaces' use cases (compat/service.py) on the native fakes."""

from __future__ import annotations

import base64

from native_fakes import Rig, make_service
from swapflow.compat.service import CompatService
from swapflow.jobs.models import Job, JobStatus, Output, StoredImage, SwapSpec
from swapflow.jobs.queries import MAX_BASE64_OUTPUT_BYTES
from swapflow.jobs.uploads import UploadService

MB = 1024 * 1024
IMAGE = StoredImage("inputs", "inputs/acme/j/source.jpg", "image/jpeg", 64, 64)


def compat(svc: Rig) -> CompatService:
    uploads = UploadService(svc.blobs, bucket="inputs", max_bytes=20 * MB)
    return CompatService(
        settings=svc.intake.settings,
        intake=svc.intake,
        queries=svc.queries,
        inputs=svc.intake.inputs,  # type: ignore[arg-type]
        blobs=svc.blobs,
        uploads=lambda: uploads,
    )


def completed_with(svc: Rig, *sizes: int) -> Job:
    outputs = []
    for i, size in enumerate(sizes):
        key = f"outputs/acme/01JOB/{i}.png"
        svc.blobs.put("archive", key, bytes(size), "image/png")
        outputs.append(Output("archive", key, "image/png", 8, 8, size, "0" * 64))
    spec = SwapSpec(IMAGE, IMAGE, enable_base64_output=True)
    svc.repo.put_new(Job(id="01JOB", tenant="acme", provider="engine", spec=spec, created_at=svc.clock()))
    svc.repo.finish("01JOB", JobStatus.COMPLETED, outputs, None, svc.clock())
    return svc.repo.get("01JOB")


def test_GIVEN_a_base64_job_with_a_small_output_WHEN_its_prediction_is_read_THEN_the_output_is_a_data_uri() -> None:
    svc = make_service()
    job = completed_with(svc, 1000)

    prediction = compat(svc).prediction(job, base_url="https://api.example")

    assert prediction["outputs"] == [f"data:image/png;base64,{base64.b64encode(bytes(1000)).decode()}"]


def test_GIVEN_a_base64_job_with_an_output_over_4_mb_WHEN_read_THEN_it_comes_by_url_within_lambdas_6_mb() -> None:
    svc = make_service()
    job = completed_with(svc, 5 * MB)

    prediction = compat(svc).prediction(job, base_url="https://api.example")

    (url,) = prediction["outputs"]
    assert url.startswith("https://s3.") and "/archive/outputs/acme/01JOB/0.png" in url
    assert prediction["status"] == "completed"


def test_GIVEN_outputs_that_fit_one_by_one_but_not_together_WHEN_read_THEN_the_rest_come_by_url() -> None:
    svc = make_service()
    job = completed_with(svc, 3 * MB, 3 * MB)

    outputs = compat(svc).prediction(job, base_url="https://api.example")["outputs"]

    assert outputs[0].startswith("data:image/png;base64,") and outputs[1].startswith("https://s3.")
    assert sum(len(o) for o in outputs) < 4 * MAX_BASE64_OUTPUT_BYTES / 3 + 1024  # the answer stays under 6 MB
