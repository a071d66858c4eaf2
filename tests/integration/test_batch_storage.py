"""The DynamoDB batch repository (moto): each member moves once, counts never double, one completion claim."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from swapflow.jobs.exceptions import BatchNotFoundError
from swapflow.jobs.models import PENDING_IMAGE, Batch, BatchMember, Job, StoredImage, SwapSpec, derived_id
from swapflow.storage.batches import DynamoBatchRepository
from swapflow.storage.dynamo import DynamoJobRepository


def create(repo: DynamoBatchRepository, batch: Batch, members: list[tuple[BatchMember, str]]) -> bool:
    """As BatchService.accept stores a batch: open, its members, then sealed with its total."""
    created = repo.create_open(batch, shards=1)
    repo.add_members(batch, members)
    repo.seal(batch.id, len(members), batch.providers)
    return created


@pytest.fixture
def repo(jobs_table: Any) -> DynamoBatchRepository:
    repository = DynamoBatchRepository(jobs_table)
    members = [(BatchMember(i, f"job-{i}"), '{"target_image": "x"}') for i in range(4)]
    assert create(repository, Batch("b1", "t", 4, ["engine"], 1.0), members)
    return repository


def test_GIVEN_a_stored_batch_WHEN_created_again_THEN_nothing_changes(repo: DynamoBatchRepository) -> None:
    repo.transition("b1", "job-0", "processing")
    assert not repo.create_open(Batch("b1", "t", 1, ["engine"], 2.0), shards=1)
    assert repo.get("b1").total == 4 and repo.member("b1", "job-0").status == "processing"
    assert repo.request("b1", "job-3") == '{"target_image": "x"}'


def test_GIVEN_a_batch_of_2500_WHEN_paged_THEN_each_page_is_one_query_in_index_order_with_a_cancel_mark(
    jobs_table: Any,
) -> None:
    repo = DynamoBatchRepository(jobs_table)
    batch = Batch("B9", "t", 0, ["engine"], 1_800_000_000.0, sealed=False)
    ids = [derived_id(f"B9/{i}", batch.created_at, i) for i in range(2500)]
    create(repo, batch, [(BatchMember(i, job_id), "{}") for i, job_id in enumerate(ids)])

    pages, after, more = [], None, True
    while more:
        members, more = repo.members_page("B9", 1000, after)
        pages.append([m.index for m in members])
        after = members[-1].job_id
    repo.mark_cancelled("B9", 5.0)
    repo.mark_cancelled("B9", 6.0)  # a second cancel keeps the first time

    assert [len(p) for p in pages] == [1000, 1000, 500] and [i for p in pages for i in p] == list(range(2500))
    assert repo.get("B9").cancelled_at == 5.0 and repo.get("B9").counts_view()["queued"] == 2500


def test_GIVEN_transitions_reported_twice_and_racing_WHEN_counted_THEN_each_job_counts_once(
    repo: DynamoBatchRepository,
) -> None:
    assert repo.transition("b1", "job-0", "processing").changed
    assert not repo.transition("b1", "job-0", "processing").changed
    racers = [
        threading.Thread(target=repo.transition, args=("b1", f"job-{i % 3}", status))
        for i, status in enumerate(["completed", "failed", "cancelled"] * 4)
    ]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    assert not repo.transition("b1", "job-0", "processing").changed  # a late start report after the end

    counts = repo.get("b1").counts_view()
    assert counts["queued"] == 1 and counts["processing"] == 0 and counts["total"] == 4
    assert counts["completed"] + counts["failed"] + counts["cancelled"] == 3
    statuses = [m.status for m in repo.members("b1")]
    assert [m.index for m in repo.members("b1")] == [0, 1, 2, 3] and statuses[3] == "queued"


def test_GIVEN_a_member_WHEN_moved_THEN_two_requests_return_the_member_and_the_counts_after(
    repo: DynamoBatchRepository, count_requests: Callable[[], list[str]]
) -> None:
    repo.set_token("b1", "job-1", "slot-token")
    repo.manifest("b1")  # the batch's fixed facts, read once per environment
    calls = count_requests()
    ended = repo.transition("b1", "job-1", "completed", [{"key": "o.jpg"}])
    late = repo.transition("b1", "job-1", "failed", [], {"code": "x"})  # lost: the member had ended

    assert calls == ["UpdateItem", "UpdateItem"] * 2  # no read before or after either move
    assert ended.changed and ended.member.status == "completed" and ended.member.token == "slot-token"
    assert ended.member.outputs == [{"key": "o.jpg"}] and ended.batch is not None
    assert ended.batch.counts_view()["completed"] == 1 and ended.batch.counts_view()["queued"] == 3
    assert not late.changed and late.member.status == "completed" and late.member.outputs == [{"key": "o.jpg"}]
    assert late.batch is not None and late.batch.counts_view() == ended.batch.counts_view()
    with pytest.raises(BatchNotFoundError):
        repo.transition("b1", "job-404", "completed")


def test_GIVEN_two_finishers_WHEN_both_claim_completion_THEN_one_wins_and_may_reclaim(
    repo: DynamoBatchRepository,
) -> None:
    assert repo.claim_completion("b1", "job-1", 5.0)
    assert not repo.claim_completion("b1", "job-2", 5.0)
    assert repo.claim_completion("b1", "job-1", 6.0)  # the winner's retry after a crash
    repo.mark_completion_sent("b1")
    assert not repo.claim_completion("b1", "job-1", 7.0)
    assert repo.get("b1").completion == "sent"


def test_GIVEN_a_big_open_batch_WHEN_members_are_added_and_end_THEN_counts_spread_over_shards_and_add_up(
    jobs_table: Any, count_requests: Callable[[], list[str]]
) -> None:
    repo = DynamoBatchRepository(jobs_table)
    batch = Batch("big", "t", 0, [], 1.0, sealed=False)
    assert repo.create_open(batch, shards=4)
    assert not repo.create_open(batch, shards=4)
    members = [(BatchMember(i, f"job-{i}"), "{}") for i in range(40)]
    members.append((BatchMember(40, "job-40", status="failed", error={"code": "invalid_request"}), "{}"))
    repo.add_members(batch, members)
    assert repo.get("big").status != "completed"  # not sealed: never completed, whatever the counts

    repo.seal("big", 41, ["engine"])
    for i in range(40):
        repo.transition("big", f"job-{i}", "completed" if i % 2 else "failed")

    big = repo.get("big")
    calls = count_requests()
    turn = repo.get("big", counts=False)  # what a job's turn reads: the record alone
    assert calls == ["GetItem"] and turn.total == 41 and turn.sealed and turn.done < big.done
    shard_items = jobs_table.query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :c)",
        ExpressionAttributeValues={":pk": "BATCH#big", ":c": "COUNT#"},
    )["Items"]
    assert len(shard_items) == 3  # shards 1..3; shard 0 is the batch record
    assert big.counts_view() == {
        "queued": 0,
        "processing": 0,
        "completed": 20,
        "failed": 21,
        "cancelled": 0,
        "total": 41,
    }
    assert big.status == "completed" and big.providers == ["engine"]
    assert repo.member("big", "job-40").error == {"code": "invalid_request"}


def test_GIVEN_a_token_for_a_job_the_batch_lacks_WHEN_set_THEN_none_and_no_item_is_made(
    repo: DynamoBatchRepository,
) -> None:
    create(repo, Batch("B2", "t", 1, ["engine"], 1.0), [(BatchMember(0, "J1"), "{}")])

    assert repo.set_token("B2", "J-other", "tok") is None
    member = repo.set_token("B2", "J1", "tok")
    assert member is not None and member.token == "tok" and member.job_id == "J1"
    assert [m.job_id for m in repo.members("B2")] == ["J1"]


def test_GIVEN_batch_jobs_recorded_at_acceptance_WHEN_written_again_staged_and_cancelled_THEN_one_record_each(
    jobs_table: Any,
) -> None:
    """Records in BatchWriteItem chunks (a retried Register pass rewrites them); staging writes a spec once."""
    jobs = DynamoJobRepository(jobs_table)
    pending = SwapSpec(PENDING_IMAGE, PENDING_IMAGE, output_format="png")
    queued = [
        Job(
            id=derived_id(f"B7/{i}", 1_800_000_000.0, i),
            tenant="t",
            provider="engine",
            spec=pending,
            batch_id="B7",
            created_at=1_800_000_000.0,
            updated_at=1_800_000_000.0,
            staged=False,
        )
        for i in range(60)
    ]
    jobs.put_queued(queued)
    jobs.put_queued(queued)

    listed, more = jobs.list_for_tenant("t", "queued", 100, None)
    assert len(listed) == 60 and not more and all(not j.staged and j.batch_id == "B7" for j in listed)
    stored = StoredImage("inputs", "inputs/t/B7/ab.jpg", "image/jpeg", 8, 8, "ab")
    first, second = queued[0], queued[1]
    assert jobs.stage(replace(first, spec=replace(pending, source_image=stored, target_image=stored)))
    assert not jobs.stage(replace(first, spec=pending))  # once
    assert jobs.get(first.id).staged and jobs.get(first.id).spec.source_image == stored
    assert jobs.finish(second.id, "cancelled", [], None, 1_800_000_001.0)
    assert not jobs.stage(second)  # cancelled before its turn: never staged
    assert jobs.get(second.id).status == "cancelled" and jobs.get(second.id).spec.output_format == "png"
