"""DynamoDB adapters of the native API on moto: job listing, event claims, Idempotency-Key records,
per-tenant rate windows, API keys and webhook secrets, and the `swapflow keys` CLI over them."""

from __future__ import annotations

import base64
import io
import json
import threading
from dataclasses import replace
from typing import Any

import pytest
from swapflow.cli import main
from swapflow.jobs.exceptions import JobNotFoundError
from swapflow.jobs.models import Job, JobError, JobStatus, StoredImage, SwapSpec, new_job_id
from swapflow.storage.dynamo import DynamoApiKeys, DynamoJobRepository
from swapflow.storage.idempotency import DynamoIdempotencyRecords
from swapflow.storage.tenants import (
    ApiKeyNotFoundError,
    DynamoRateLimiter,
    DynamoTenants,
    TenantNameInvalidError,
    TenantNotFoundError,
)

IMAGE = StoredImage("inputs", "a.jpg", "image/jpeg", 8, 8)


@pytest.fixture
def table(jobs_table: Any) -> Any:
    """The jobs table, and the stack's webhook-secrets KMS key beside it (the keys CLI seals secrets with it)."""
    import boto3

    kms = boto3.client("kms")
    kms.create_alias(AliasName="alias/Swapflow/webhook-secrets", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    return jobs_table


def test_given_a_stored_record_too_deep_to_publish_when_read_or_listed_then_its_metadata_is_a_marker(
    table: Any,
) -> None:
    """Records written before the depth cap: reading, listing and announcing them must never fail."""
    repo = DynamoJobRepository(table)
    (job_id,) = put_jobs(repo, "acme", 1)
    deep = "[" * 990 + "]" * 990
    table.update_item(
        Key={"pk": f"JOB#{job_id}", "sk": "JOB"},
        UpdateExpression="SET metadata = :m",
        ExpressionAttributeValues={":m": '{"a": ' + deep + "}"},
    )

    job = repo.get(job_id)
    listed, _ = repo.list_for_tenant("acme", None, 10, None)

    assert "unavailable" in job.metadata and listed[0].metadata == job.metadata
    assert json.loads(json.dumps(job.public_view()))["metadata"] == job.metadata


def put_jobs(repo: DynamoJobRepository, tenant: str, count: int, start: float = 1_800_000_000) -> list[str]:
    ids = []
    for i in range(count):
        job = Job(id=new_job_id(start + i), tenant=tenant, provider="engine", spec=SwapSpec(IMAGE, IMAGE))
        repo.put_new(replace(job, created_at=start + i, updated_at=start + i))
        ids.append(job.id)
    return ids


# ---- listing ------------------------------------------------------------------------------------------


def test_given_jobs_of_two_tenants_when_paging_then_newest_first_and_only_the_tenants_jobs(table: Any) -> None:
    repo = DynamoJobRepository(table)
    mine = put_jobs(repo, "acme", 7)
    put_jobs(repo, "other", 3)
    table.put_item(Item={"pk": "BATCH#1", "sk": "BATCH", "gsi1pk": "TENANT#acme", "gsi1sk": "~batch"})

    pages, after = [], None
    while True:
        jobs, more = repo.list_for_tenant("acme", None, 3, after)
        pages.append([j.id for j in jobs])
        if not more:
            break
        after = jobs[-1].id

    assert [len(p) for p in pages] == [3, 3, 1]
    assert [job_id for page in pages for job_id in page] == list(reversed(mine))


def test_given_a_status_filter_over_many_other_jobs_when_listing_then_the_page_is_full(table: Any) -> None:
    repo = DynamoJobRepository(table)
    ids = put_jobs(repo, "acme", 30)
    for job_id in (ids[1], ids[2], ids[25]):
        assert repo.finish(job_id, JobStatus.FAILED, [], None, 1_800_000_100)

    jobs, more = repo.list_for_tenant("acme", "failed", 2, None)
    rest, more_after = repo.list_for_tenant("acme", "failed", 2, jobs[-1].id)

    assert [j.id for j in jobs] == [ids[25], ids[2]] and more
    assert [j.id for j in rest] == [ids[1]] and not more_after


# ---- terminal event claims ----------------------------------------------------------------------------


def test_given_a_pending_event_when_two_publishers_claim_it_then_one_wins_until_it_is_released(table: Any) -> None:
    repo = DynamoJobRepository(table)
    (job_id,) = put_jobs(repo, "acme", 1)
    assert not repo.claim_event(job_id)  # not terminal yet: nothing to publish
    repo.finish(job_id, JobStatus.CANCELLED, [], None, 1_800_000_001)

    assert [repo.claim_event(job_id), repo.claim_event(job_id)] == [True, False]
    repo.release_event(job_id)  # the publish failed
    assert repo.claim_event(job_id)
    repo.mark_event_sent(job_id)
    assert not repo.claim_event(job_id)


def test_given_a_claim_left_by_a_crashed_publisher_when_it_is_stale_then_it_can_be_taken_over(table: Any) -> None:
    repo = DynamoJobRepository(table)
    (job_id,) = put_jobs(repo, "acme", 1)
    repo.finish(job_id, JobStatus.FAILED, [], None, 1_800_000_001)
    assert repo.claim_event(job_id)
    table.update_item(
        Key={"pk": f"JOB#{job_id}", "sk": "JOB"},
        UpdateExpression="SET event_claimed_at = :old",
        ExpressionAttributeValues={":old": 1},
    )
    assert repo.claim_event(job_id)


# ---- Idempotency-Key records --------------------------------------------------------------------------


def test_given_concurrent_reservations_of_one_key_when_racing_then_all_agree_on_one_winner(table: Any) -> None:
    records = DynamoIdempotencyRecords(table)
    holders: list[tuple[str, str]] = []
    barrier = threading.Barrier(8)

    def race(i: int) -> None:
        barrier.wait()
        holders.append(records.reserve("acme", "k-1", "hash", f"job-{i}"))

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(set(holders)) == 1 and len(holders) == 8
    assert records.held("acme", "k-1") == holders[0]
    assert records.held("other", "k-1") is None


def test_given_an_expired_or_released_key_when_reserved_again_then_the_new_request_gets_it(table: Any) -> None:
    now = [1_800_000_000.0]
    records = DynamoIdempotencyRecords(table, clock=lambda: now[0])
    assert records.reserve("acme", "k-1", "h1", "job-1") == ("job-1", "h1")
    records.release("acme", "k-1", "job-2")  # not the holder: nothing happens
    assert records.reserve("acme", "k-1", "h2", "job-2") == ("job-1", "h1")

    now[0] += 24 * 3600 + 1
    assert records.held("acme", "k-1") is None
    assert records.reserve("acme", "k-1", "h2", "job-2") == ("job-2", "h2")
    records.release("acme", "k-1", "job-2")
    assert records.held("acme", "k-1") is None
    item = table.get_item(Key={"pk": "IDEM#acme#k-1", "sk": "IDEM"}).get("Item")
    assert item is None


# ---- rate windows -------------------------------------------------------------------------------------


def test_given_a_limit_of_three_when_a_tenant_sends_more_in_one_second_then_the_rest_wait(table: Any) -> None:
    limiter = DynamoRateLimiter(table)
    assert [limiter.admit("acme", 3, 100.1) for _ in range(5)] == [1, 2, 3, None, None]
    assert limiter.admit("other", 3, 100.2)
    assert limiter.admit("acme", 3, 101.0)


# ---- keys and secrets ---------------------------------------------------------------------------------


def test_given_a_new_tenant_when_keys_are_created_then_only_hashes_are_stored_and_one_secret_is_shared(
    table: Any,
) -> None:
    tenants = DynamoTenants(table)
    key1, info1, secret1 = tenants.create_key("acme")
    key2, _, secret2 = tenants.create_key("acme")

    assert key1.startswith("sf_") and key1 != key2
    assert secret1 == secret2 == tenants.tenant_secret("acme")
    assert secret1.startswith("whsec_") and len(base64.b64decode(secret1[6:])) == 24
    assert DynamoApiKeys(table).tenant_for(key1) == "acme"
    stored = json.dumps(table.scan()["Items"], default=str)
    assert key1 not in stored and key2 not in stored
    assert [k.key_id for k in tenants.list_keys("acme")] == [info1.key_id, tenants.find_key(key2).key_id]


@pytest.mark.parametrize("ref", ["id", "prefix", "whole key"])
def test_given_a_key_when_revoked_by_id_prefix_or_itself_then_it_no_longer_authenticates(table: Any, ref: str) -> None:
    tenants = DynamoTenants(table)
    key, info, _ = tenants.create_key("acme")
    other, _, _ = tenants.create_key("acme")
    given = {"id": info.key_id, "prefix": info.prefix.rstrip("."), "whole key": key}[ref]

    revoked = tenants.revoke(given)

    assert revoked.key_id == info.key_id and not revoked.active
    assert DynamoApiKeys(table).tenant_for(key) is None
    assert DynamoApiKeys(table).tenant_for(other) == "acme"


def test_given_an_ambiguous_or_unknown_reference_when_revoking_then_nothing_is_revoked(table: Any) -> None:
    tenants = DynamoTenants(table)
    key, _, _ = tenants.create_key("acme")
    tenants.create_key("acme")
    for ref in ("sf_", "nothing-like-it"):
        with pytest.raises(ApiKeyNotFoundError):
            tenants.revoke(ref)
    assert DynamoApiKeys(table).tenant_for(key) == "acme"


def test_given_a_tenant_when_its_secret_is_rotated_then_a_new_secret_and_unknown_tenants_are_refused(
    table: Any,
) -> None:
    tenants = DynamoTenants(table)
    _, _, secret = tenants.create_key("acme")
    rotated = tenants.rotate_secret("acme")
    assert rotated != secret and tenants.tenant_secret("acme") == rotated
    with pytest.raises(TenantNotFoundError):
        tenants.rotate_secret("nobody")
    with pytest.raises(TenantNameInvalidError):
        tenants.create_key("Bad Name!")


# ---- the keys CLI -------------------------------------------------------------------------------------


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_given_the_table_when_using_the_keys_cli_then_create_list_rotate_and_revoke_work_end_to_end(
    table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, printed = cli("keys", "create", "--tenant", "acme", "--table", table.name, "--json")
    created = json.loads(printed)
    assert code == 0 and created["tenant"] == "acme" and created["webhook_secret"].startswith("whsec_")
    assert DynamoApiKeys(table).tenant_for(created["api_key"]) == "acme"

    code, printed = cli("keys", "list", "--table", table.name, "--show-secret", "--json")
    (row,) = json.loads(printed)
    assert row["key_id"] == created["key_id"] and row["webhook_secret"] == created["webhook_secret"]
    assert created["api_key"] not in printed

    code, printed = cli("keys", "rotate-secret", "--tenant", "acme", "--table", table.name)
    assert code == 0 and "whsec_" in printed and created["webhook_secret"] not in printed

    code, printed = cli("keys", "revoke", created["key_id"], "--table", table.name)
    assert code == 0 and created["key_id"] in printed
    assert DynamoApiKeys(table).tenant_for(created["api_key"]) is None
    code, printed = cli("keys", "list", "--table", table.name)
    assert "revoked" in printed

    assert cli("keys", "revoke", "sf_nothing", "--table", table.name)[0] == 1
    assert cli("keys", "create", "--tenant", "No Good", "--table", table.name)[0] == 2
    assert "swapflow:" in capsys.readouterr().err


def test_given_a_tenant_when_setting_its_default_webhook_then_only_public_https_urls_are_kept(
    table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("keys", "create", "--tenant", "acme", "--table", table.name)[0] == 0
    tenants = DynamoTenants(table)

    assert cli("keys", "set-webhook", "--tenant", "acme", "https://93.184.216.34/hooks", "--table", table.name)[0] == 0
    assert tenants.default_webhook_url("acme") == "https://93.184.216.34/hooks"

    for refused in ("https://127.0.0.1/hooks", "https://169.254.169.254/", "http://93.184.216.34/hooks"):
        assert cli("keys", "set-webhook", "--tenant", "acme", refused, "--table", table.name)[0] == 2
    assert tenants.default_webhook_url("acme") == "https://93.184.216.34/hooks"
    assert "swapflow:" in capsys.readouterr().err

    assert cli("keys", "set-webhook", "--tenant", "nobody", "https://93.184.216.34/x", "--table", table.name)[0] == 1
    assert cli("keys", "set-webhook", "--tenant", "acme", "--clear", "--table", table.name)[0] == 0
    assert tenants.default_webhook_url("acme") is None


def test_given_no_table_name_when_the_stack_is_unknown_then_the_cli_says_to_pass_table(
    table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("keys", "list", "--stack", "Nope")[0] == 1
    assert "--table" in capsys.readouterr().err


# ---- the hand-over claim of a Run pass -------------------------------------------------------------------


def test_given_two_run_passes_when_both_claim_a_jobs_hand_over_then_one_wins_until_it_is_stale_or_released(
    table: Any,
) -> None:
    repo = DynamoJobRepository(table)
    (job_id,) = put_jobs(repo, "acme", 1)
    now = 1_800_000_100.0

    with_threads: list[bool] = []
    racers = [
        threading.Thread(target=lambda o=owner: with_threads.append(repo.claim_submit(job_id, o, now, now - 60)))
        for owner in ("pass-1", "pass-2", "pass-3", "pass-4")
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    winner = table.get_item(Key={"pk": f"JOB#{job_id}", "sk": "JOB"})["Item"]["submit_claim"]

    assert sorted(with_threads) == [False, False, False, True]
    assert repo.claim_submit(job_id, winner, now + 1, now - 59)  # the owner may claim again (the `auto` chain)
    assert not repo.claim_submit(job_id, "late", now + 30, now - 30)  # live: 30 s old
    assert repo.claim_submit(job_id, "late", now + 62, now + 2)  # stale: its pass died
    repo.release_submit(job_id, winner)  # not the owner any more: nothing changes
    assert not repo.claim_submit(job_id, "other", now + 63, now + 3)
    repo.release_submit(job_id, "late")
    assert repo.claim_submit(job_id, "other", now + 64, now + 4)
    repo.mark_processing(job_id, "provider-1", now + 65, provider="engine")
    assert not repo.claim_submit(job_id, "other", now + 66, now + 6)  # handed over: nothing more to claim


def test_given_an_open_job_when_finished_then_the_write_returns_the_ended_job_once(table: Any) -> None:
    repo = DynamoJobRepository(table)
    (job_id,) = put_jobs(repo, "acme", 1)
    repo.record_result(job_id, {"state": "succeeded", "outputs": [], "failure": None})

    ended = repo.finish(job_id, JobStatus.FAILED, [], JobError("provider_failed", "no output"), 1_800_000_100)
    again = repo.finish(job_id, JobStatus.COMPLETED, [], None, 1_800_000_200)
    job, recorded = repo.get_with_result(job_id)

    assert ended == job and ended.status is JobStatus.FAILED and ended.error == JobError("provider_failed", "no output")
    assert again is None and recorded == {"state": "succeeded", "outputs": [], "failure": None}


def test_given_a_retried_pass_parked_its_token_when_the_timed_out_pass_parks_late_then_the_live_token_stays(
    table: Any,
) -> None:
    repo = DynamoJobRepository(table)
    (job_id,) = put_jobs(repo, "acme", 1)

    assert repo.store_token(job_id, "token-retried", {}, pass_started=1_800_000_060) == (True, None)
    assert repo.store_token(job_id, "token-late", {}, pass_started=1_800_000_000) == (False, None)
    repo.record_result(job_id, {"state": "succeeded", "outputs": [], "failure": None})
    assert repo.store_token(job_id, "token-next", {}, pass_started=1_800_000_090)[0]

    assert table.get_item(Key={"pk": f"JOB#{job_id}", "sk": "JOB"})["Item"]["task_token"] == "token-next"
    with pytest.raises(JobNotFoundError):
        repo.store_token("01NOSUCHJOB", "t", {}, pass_started=1.0)
