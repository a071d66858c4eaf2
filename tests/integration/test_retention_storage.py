"""Deletion and retention on moto: versioned buckets emptied of a job's every version, the tombstone, the sweep,
tenants' retention settings and the audit trail."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
from swapflow.jobs.models import Job, JobStatus, Output, StoredImage, SwapSpec, new_job_id
from swapflow.jobs.retention import DAY, JobEraser, Retention
from swapflow.storage.audit import DynamoAuditLog
from swapflow.storage.dynamo import DynamoJobRepository
from swapflow.storage.s3 import S3BlobStore
from swapflow.storage.tenants import DynamoTenants, TenantNotFoundError

from tests.shared.fakes import FakeEvents

ROOT = Path(__file__).resolve().parents[2]
NO_EXPIRY = Retention(inputs_days=3650, outputs_days=None)
NOW = 1_800_000_000.0
INPUTS, ARCHIVE = "sf-input", "sf-archive"


@pytest.fixture
def world(jobs_table: Any) -> dict[str, Any]:
    s3 = boto3.client("s3")
    for bucket in (INPUTS, ARCHIVE):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    repo = DynamoJobRepository(jobs_table)
    events = FakeEvents()
    audit = DynamoAuditLog(jobs_table)
    eraser = JobEraser(
        repo=repo,
        blobs=S3BlobStore(s3),
        events=events,
        input_bucket=INPUTS,
        archive_bucket=ARCHIVE,
        audit=audit,
        clock=lambda: NOW,
    )
    return {"s3": s3, "repo": repo, "events": events, "eraser": eraser, "audit": audit, "table": jobs_table}


def stored_job(
    world: dict[str, Any], tenant: str = "acme", *, ended: float = NOW - 2 * DAY, retention: Retention = NO_EXPIRY
) -> Job:
    """A completed job with two versions of each input, a deleted staged file (a delete marker) and an output."""
    s3, repo = world["s3"], world["repo"]
    job_id = new_job_id(ended)
    src = StoredImage(INPUTS, f"inputs/{tenant}/{job_id}/source.jpg", "image/jpeg", 8, 8, "a" * 64)
    tgt = StoredImage(INPUTS, f"inputs/{tenant}/{job_id}/target.jpg", "image/jpeg", 8, 8, "b" * 64)
    for key in (src.key, tgt.key):
        s3.put_object(Bucket=INPUTS, Key=key, Body=b"v1")
        s3.put_object(Bucket=INPUTS, Key=key, Body=b"v2")
    s3.put_object(Bucket=INPUTS, Key=f"staging/{job_id}/0.jpg", Body=b"staged")
    s3.delete_object(Bucket=INPUTS, Key=f"staging/{job_id}/0.jpg")
    out_key = f"outputs/{tenant}/{job_id}/0.jpg"
    s3.put_object(Bucket=ARCHIVE, Key=out_key, Body=b"out")
    job = Job(id=job_id, tenant=tenant, provider="engine", spec=SwapSpec(src, tgt), metadata={"name": "Jane Doe"})
    repo.put_new(replace(job, created_at=ended, updated_at=ended, webhook_url="https://hooks.example/x"))
    output = Output(ARCHIVE, out_key, "image/jpeg", 8, 8, 3, "c" * 64)
    repo.finish(job_id, JobStatus.COMPLETED, [output], None, ended, expires=retention.expiry(ended))
    return repo.get(job_id)


def versions(s3: Any, bucket: str, prefix: str) -> int:
    page = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    return len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))


def test_given_a_tombstoned_job_when_the_eraser_runs_then_every_version_goes_and_one_event_is_sent(world) -> None:
    job = stored_job(world)
    other = stored_job(world)
    world["repo"].tombstone(job.id, NOW)

    world["eraser"].delete(job.id)
    world["eraser"].delete(job.id)

    s3 = world["s3"]
    assert versions(s3, INPUTS, f"inputs/acme/{job.id}/") == 0
    assert versions(s3, INPUTS, f"staging/{job.id}/") == 0
    assert versions(s3, ARCHIVE, f"outputs/acme/{job.id}/") == 0
    assert versions(s3, INPUTS, f"inputs/acme/{other.id}/") == 4  # another job's photos are untouched
    assert [t for t, _ in world["events"].published] == ["Swap Job Deleted"]
    schema = json.loads((ROOT / "schemas" / "events" / "swap-job-deleted.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(world["events"].published[0][1])
    item = world["table"].get_item(Key={"pk": f"JOB#{job.id}", "sk": "JOB"})["Item"]
    assert item["metadata"] == "{}" and "webhook_url" not in item and "provider_result" not in item
    tombstone = world["repo"].get(job.id)
    assert tombstone.deleted_at == NOW and tombstone.input_hashes() == {
        "source_image": "a" * 64,
        "target_image": "b" * 64,
    }
    assert "url" not in tombstone.public_view(["https://x"])["outputs"][0]


def test_given_a_job_not_deleted_when_the_eraser_is_asked_then_nothing_is_deleted(world) -> None:
    job = stored_job(world)

    world["eraser"].delete(job.id)

    assert versions(world["s3"], INPUTS, f"inputs/acme/{job.id}/") == 4
    assert world["events"].published == []


def test_given_expired_inputs_when_swept_then_only_inputs_go_once_and_the_audit_says_so(world) -> None:
    job = stored_job(world, retention=Retention(inputs_days=1, outputs_days=30))

    first = world["eraser"].sweep(NOW)
    second = world["eraser"].sweep(NOW)

    assert (first["jobs"], first["inputs"], first["outputs"]) == (1, 1, 0)
    assert second["jobs"] == 0
    s3 = world["s3"]
    assert versions(s3, INPUTS, f"inputs/acme/{job.id}/") == 0
    assert versions(s3, ARCHIVE, f"outputs/acme/{job.id}/") == 1
    swept = world["repo"].get(job.id)
    assert swept.inputs_erased_at == NOW and swept.outputs_erased_at is None
    assert swept.public_view(["https://x"])["expires_at"]["outputs"].startswith("2027-02-12")
    entries = world["audit"].entries("acme", NOW - DAY)
    assert [(e["action"], e["job_id"], e["parts"]) for e in entries] == [("job.expired", job.id, ["inputs"])]


def test_given_outputs_kept_when_swept_long_after_then_outputs_stay_and_the_record_has_no_ttl(world) -> None:
    job = stored_job(world, retention=Retention(inputs_days=0, outputs_days=None))

    world["eraser"].sweep(NOW + 3650 * DAY)

    assert versions(world["s3"], ARCHIVE, f"outputs/acme/{job.id}/") == 1
    assert "ttl" not in world["table"].get_item(Key={"pk": f"JOB#{job.id}", "sk": "JOB"})["Item"]


def test_given_a_deletion_whose_eraser_run_was_lost_when_swept_then_it_is_finished(world) -> None:
    job = stored_job(world)
    world["repo"].tombstone(job.id, NOW)

    counts = world["eraser"].sweep(NOW)

    assert counts["deleted"] == 1
    assert versions(world["s3"], ARCHIVE, f"outputs/acme/{job.id}/") == 0
    assert [t for t, _ in world["events"].published] == ["Swap Job Deleted"]


def test_given_a_tenant_when_its_retention_is_set_then_read_back_and_unknown_tenants_refused(world) -> None:
    tenants = DynamoTenants(world["table"])
    tenants.create_key("acme")
    assert tenants.retention("acme") == Retention(inputs_days=1, outputs_days=30)

    tenants.set_retention("acme", inputs_days=0.5, outputs_days=None, keep=True)

    assert tenants.retention("acme") == Retention(inputs_days=0.5, outputs_days=None)
    tenants.set_retention("acme", inputs_days=None, outputs_days=7, keep=False)
    assert tenants.retention("acme") == Retention(inputs_days=0.5, outputs_days=7)
    with pytest.raises(TenantNotFoundError):
        tenants.set_retention("nobody", inputs_days=1, outputs_days=None, keep=False)


def test_given_audit_entries_when_read_since_a_time_then_only_later_ones_oldest_first(world) -> None:
    audit = world["audit"]
    for i, action in enumerate(["job.submitted", "job.deleted", "job.submitted"]):
        audit.record("acme", {"action": action, "job_id": f"J{i}"}, NOW + i * 3600)
    audit.record("other", {"action": "job.submitted", "job_id": "X"}, NOW)

    entries = audit.entries("acme", NOW + 1800)

    assert [(e["action"], e["job_id"]) for e in entries] == [("job.deleted", "J1"), ("job.submitted", "J2")]
    assert all(e["tenant"] == "acme" for e in entries)


def test_given_a_batch_when_its_requests_are_forgotten_then_no_member_keeps_its_images(world) -> None:
    from swapflow.jobs.models import Batch, BatchMember
    from swapflow.storage.batches import DynamoBatchRepository

    repo = DynamoBatchRepository(world["table"])
    batch = Batch(id="B1", tenant="acme", total=2, providers=["engine"], created_at=NOW)
    face = '{"source_image": "data:image/jpeg;base64,/9j/4AAQ"}'
    repo.create_open(batch, shards=1)
    repo.add_members(batch, [(BatchMember(0, "J0"), face), (BatchMember(1, "J1"), face)])

    repo.forget_requests("B1")

    assert [repo.request("B1", job_id) for job_id in ("J0", "J1")] == ["{}", "{}"]


def test_given_a_batch_job_whose_inputs_are_shared_by_content_when_erased_then_those_copies_go_too(world) -> None:
    s3, repo = world["s3"], world["repo"]
    job_id = new_job_id(NOW - DAY)
    shared = StoredImage(INPUTS, f"inputs/acme/B1/{'d' * 64}.jpg", "image/jpeg", 8, 8, "d" * 64)
    s3.put_object(Bucket=INPUTS, Key=shared.key, Body=b"photo")
    s3.put_object(Bucket=INPUTS, Key="inputs/acme/B1/other.jpg", Body=b"another job's photo")
    job = Job(id=job_id, tenant="acme", provider="engine", spec=SwapSpec(shared, shared), batch_id="B1")
    repo.put_new(replace(job, created_at=NOW - DAY, updated_at=NOW - DAY))

    world["eraser"].erase(repo.get(job_id), ("inputs",))

    assert versions(s3, INPUTS, shared.key) == 0
    assert versions(s3, INPUTS, "inputs/acme/B1/other.jpg") == 1
