"""The client's views of a job share the domain's names: what a caller reads of a job is what the API sent."""

from __future__ import annotations

import subprocess
import sys

from swapflow.client import TERMINAL, Job

ANSWER = {
    "id": "01JD3Q8Z6Y1T9V2C4B7N5M0K8H",
    "status": "completed",
    "provider": "wavespeed-pro",
    "outputs": [
        {
            "bucket": "swapflow-outputs",
            "key": "outputs/acme/01JD3Q8Z6Y1T9V2C4B7N5M0K8H/0.jpg",
            "content_type": "image/jpeg",
            "width": 1024,
            "height": 768,
            "bytes": 183204,
            "sha256": "9f2c",
            "nsfw": True,
            "url": "https://swapflow-outputs.s3.amazonaws.com/outputs/0.jpg",
            "note": "converted from png",
        }
    ],
    "error": None,
}


def test_an_output_carries_the_providers_nsfw_flag_and_its_url() -> None:
    output = Job.from_dict(ANSWER).output
    assert output is not None
    assert (output.nsfw, output.note, output.url) == (True, "converted from png", ANSWER["outputs"][0]["url"])
    assert output.base64 is None


def test_a_failed_job_names_its_error_and_every_end_is_terminal() -> None:
    failed = Job.from_dict({"id": "j", "status": "failed", "error": {"code": "no_face_in_source", "message": "m"}})
    assert failed.terminal and failed.error is not None
    assert (failed.error.code, failed.error.message, failed.error.provider_code) == ("no_face_in_source", "m", None)
    assert sorted(TERMINAL) == ["cancelled", "completed", "failed"]
    assert not Job.from_dict({"id": "j", "status": "processing"}).terminal


def test_the_client_imports_without_boto3_or_pydantic() -> None:
    heavy = "('boto3', 'botocore', 'pydantic')"
    code = f"import sys, swapflow.client; print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
