"""Responsible use on the local stack: every output marked (XMP + C2PA), deletion on request, retention, audit."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_stack import ROOT, RunningStack, running_stack
from PIL import Image
from swapflow.provenance import CLASSICAL_COMPOSITE, credentials

from infra.local.client import ApiClient, data_uri, download

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

FIXTURES = ROOT / "tests" / "fixtures" / "images"
BODY = {"source_image": data_uri(FIXTURES / "source.jpg"), "target_image": data_uri(FIXTURES / "target.jpg")}
MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


@pytest.fixture(scope="module")
def signing_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("signing")


@pytest.fixture(scope="module")
def marked_stack(
    template_path: str, signing_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    """A stack whose C2PA key lives in a directory of this test's own (SWAPFLOW_SIGNING_DIR)."""
    with running_stack(
        template_path, tmp_path_factory.mktemp("marked") / "up.log", SWAPFLOW_SIGNING_DIR=str(signing_dir)
    ) as running:
        yield running


def swapflow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SWAPFLOW_", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-m", "swapflow.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **(env or {})},
        cwd=ROOT,
    )


def tenant_client(stack: RunningStack) -> tuple[str, ApiClient]:
    name = f"t{uuid.uuid4().hex[:10]}"
    done = swapflow("keys", "create", "--tenant", name, "--endpoint-url", stack.aws_endpoint, "--json")
    assert done.returncode == 0, done.stderr
    return name, stack.client(json.loads(done.stdout)["api_key"])


def versions(stack: RunningStack, bucket: str, prefix: str) -> list[str]:
    page = stack.boto("s3").list_object_versions(Bucket=bucket, Prefix=prefix)
    return [v["Key"] for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code


def until(check, seconds: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    return check()


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_given_an_engine_job_when_its_output_is_downloaded_then_xmp_and_a_trusted_c2pa_credential_bind_those_bytes(
    marked_stack, signing_dir, fmt
) -> None:
    client = marked_stack.client()
    job = client.wait(client.submit({**BODY, "output_format": fmt})["id"])
    assert job["status"] == "completed", job
    out = job["outputs"][0]

    data = download(out["url"])

    archived = marked_stack.boto("s3").get_object(Bucket=out["bucket"], Key=out["key"])["Body"].read()
    assert data == archived and hashlib.sha256(data).hexdigest() == out["sha256"]
    xmp = Image.open(io.BytesIO(data)).getxmp()["xmpmeta"]["RDF"]["Description"]
    assert (xmp["DigitalSourceType"], xmp["JobId"], xmp["Provider"]) == (CLASSICAL_COMPOSITE, job["id"], "engine")
    result = credentials.verify(data, MIME[fmt], (signing_dir / "ca.pem").read_bytes())
    assert result.state == "Trusted", result.failures
    summary = credentials.summary(result)
    assert (summary["job_id"], summary["provider"]) == (job["id"], "engine")
    assert len(summary["ingredients"]) == 2
    tampered = bytearray(data)
    tampered[len(tampered) // 2] ^= 0x01
    assert not credentials.verify(bytes(tampered), MIME[fmt], (signing_dir / "ca.pem").read_bytes()).intact
    assert job["expires_at"]["inputs"] and job["expires_at"]["outputs"]


def test_given_an_output_file_when_checked_with_swapflow_verify_then_trusted_and_a_changed_one_fails(
    marked_stack, signing_dir, tmp_path
) -> None:
    client = marked_stack.client()
    job = client.wait(client.submit(BODY)["id"])
    path = tmp_path / "out.jpg"
    path.write_bytes(download(job["outputs"][0]["url"]))

    done = swapflow("verify", str(path), "--trust", str(signing_dir / "ca.pem"))

    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["state"] == "Trusted"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert swapflow("verify", str(path), "--trust", str(signing_dir / "ca.pem")).returncode == 1


def test_given_a_completed_job_when_deleted_then_every_copy_goes_the_url_dies_and_one_event_is_sent(
    marked_stack,
) -> None:
    tenant, client = tenant_client(marked_stack)
    job = client.wait(client.submit({**BODY, "metadata": {"customer": "Jane Doe"}})["id"])
    out, input_bucket = job["outputs"][0], marked_stack.summary["input_bucket"]
    assert status_of(out["url"]) == 200

    status, _, tombstone = client.request("DELETE", f"/v1/jobs/{job['id']}")

    assert status == 202, tombstone
    assert tombstone["metadata"] == {} and tombstone["deleted_at"]
    assert tombstone["outputs"][0]["sha256"] == out["sha256"] and "url" not in tombstone["outputs"][0]
    assert until(lambda: status_of(out["url"]) == 404), "the presigned URL handed out before still works"
    assert until(lambda: not versions(marked_stack, out["bucket"], f"outputs/{tenant}/{job['id']}/"))
    assert until(lambda: not versions(marked_stack, input_bucket, f"inputs/{tenant}/{job['id']}/"))
    deleted = until(lambda: [e for e in marked_stack.events_for(job["id"]) if e["detail-type"] == "Swap Job Deleted"])
    assert len(deleted) == 1 and "metadata" not in json.dumps(deleted[0]["detail"])
    again_status, _, again = client.request("DELETE", f"/v1/jobs/{job['id']}")
    assert again_status == 202 and again["deleted_at"] == tombstone["deleted_at"]
    assert marked_stack.client().request("DELETE", f"/v1/jobs/{job['id']}")[0] == 404  # another tenant's

    audit = swapflow("audit", "--tenant", tenant, "--since", "1h", "--endpoint-url", marked_stack.aws_endpoint)
    entries = [json.loads(line) for line in audit.stdout.splitlines()]
    assert [e["action"] for e in entries] == ["job.submitted", "job.deleted"], audit.stderr
    assert entries[0]["key_id"].startswith("key_") and entries[0]["provider"] == "engine"
    assert set(entries[0]["inputs"]) == {"source_image", "target_image"}
    assert "Jane Doe" not in audit.stdout


def test_given_a_running_job_when_deleted_then_409_unless_cancel_true_also_from_the_cli(slow_stack) -> None:
    _, client = tenant_client(slow_stack)
    job_id = client.submit(BODY)["id"]
    api = ["--api", slow_stack.api_url, "--key", str(client.api_key)]

    refused_status, _, refused = client.request("DELETE", f"/v1/jobs/{job_id}")
    refused_cli = swapflow("jobs", "delete", job_id, *api)
    done = swapflow("jobs", "delete", job_id, "--cancel", *api)

    assert refused_status == 409 and refused["error"]["code"] == "conflict"
    assert refused_cli.returncode == 1 and "409 conflict" in refused_cli.stderr
    assert done.returncode == 0, done.stderr
    tombstone = json.loads(done.stdout)
    assert tombstone["status"] == "cancelled" and tombstone["deleted_at"]


def test_given_a_tenant_retention_of_zero_days_when_the_sweep_runs_then_inputs_go_and_outputs_stay(
    marked_stack,
) -> None:
    tenant, client = tenant_client(marked_stack)
    endpoint = ["--endpoint-url", marked_stack.aws_endpoint]
    assert (
        swapflow("retention", "set", "--tenant", tenant, "--inputs", "0", "--outputs", "keep", *endpoint).returncode
        == 0
    )
    job = client.wait(client.submit(BODY)["id"])
    assert job["expires_at"]["outputs"] is None and job["expires_at"]["inputs"]
    input_bucket = marked_stack.summary["input_bucket"]
    assert versions(marked_stack, input_bucket, f"inputs/{tenant}/{job['id']}/")

    swept = swapflow("retention", "sweep", *endpoint)

    assert swept.returncode == 0, swept.stderr
    assert json.loads(swept.stdout)["inputs"] >= 1
    assert not versions(marked_stack, input_bucket, f"inputs/{tenant}/{job['id']}/")
    assert status_of(client.wait(job["id"])["outputs"][0]["url"]) == 200


def test_given_a_finished_manifest_when_its_batch_is_deleted_then_outbox_copies_and_archives_of_every_job_go(
    marked_stack,
) -> None:
    s3, bucket = marked_stack.boto("s3"), marked_stack.summary["input_bucket"]
    folder = f"e2e-{uuid.uuid4().hex[:8]}"
    for name in ("source", "target"):
        s3.put_object(Bucket=bucket, Key=f"inbox/{folder}/{name}.jpg", Body=(FIXTURES / f"{name}.jpg").read_bytes())
    manifest = {"defaults": {"source_image": "source.jpg"}, "jobs": [{"target_image": "target.jpg"}] * 2}
    s3.put_object(Bucket=bucket, Key=f"inbox/{folder}/shoot.json", Body=json.dumps(manifest).encode())

    def result() -> dict | None:
        try:
            body = s3.get_object(Bucket=bucket, Key=f"outbox/{folder}/shoot.result.json")["Body"].read()
        except Exception:
            return None
        doc = json.loads(body)
        return doc if doc["status"] == "completed" else None

    done = until(result, 90)
    assert done, "the manifest did not finish"
    client, archive = marked_stack.client(), marked_stack.summary["archive_bucket"]

    status, _, batch = client.request("DELETE", f"/v1/batches/{done['batch_id']}")

    assert status == 202, batch
    assert until(lambda: not versions(marked_stack, bucket, f"outbox/{folder}/shoot/"), 30)
    for job in done["jobs"]:
        tombstone = client.request("GET", f"/v1/jobs/{job['id']}")[2]
        assert tombstone["deleted_at"] and tombstone["metadata"] == {}
        assert until(lambda job=job: not versions(marked_stack, archive, f"outputs/local/{job['id']}/"), 30)
    assert client.request("DELETE", f"/v1/batches/{done['batch_id']}")[0] == 202


def test_given_a_running_batch_when_deleted_then_409_unless_cancel_true_and_then_no_job_keeps_its_photos(
    slow_stack,
) -> None:
    tenant, client = tenant_client(slow_stack)
    status, _, batch = client.request("POST", "/v1/batches", {"defaults": BODY, "jobs": [{}, {}, {}]})
    assert status == 202, batch

    refused_status, _, refused = client.request("DELETE", f"/v1/batches/{batch['id']}")
    status, _, _ = client.request("DELETE", f"/v1/batches/{batch['id']}?cancel=true")

    assert refused_status == 409 and refused["error"]["code"] == "conflict"
    assert status == 202

    def all_deleted() -> bool:
        jobs = client.request("GET", f"/v1/batches/{batch['id']}")[2]["jobs"]
        views = [client.request("GET", f"/v1/jobs/{j['id']}") for j in jobs]
        # a job whose turn never came has no record (404) and never starts; the others are tombstones
        return all(
            code == 404 or (view.get("deleted_at") and view["status"] != "processing") for code, _, view in views
        )

    assert until(all_deleted, 60)
    input_bucket = slow_stack.summary["input_bucket"]
    assert until(lambda: not versions(slow_stack, input_bucket, f"inputs/{tenant}/"), 30)
