"""Global provider limits on DynamoDB (moto): leases, the per-minute start log, races, expiry."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from swapflow.jobs.limits import ProviderGate, ProviderSlotBusyError
from swapflow.storage.limits import DynamoLeaseStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gate(table: Any, clock: Clock, *, concurrency: float = 2, rate: float = 2, lease: float = 600) -> ProviderGate:
    return ProviderGate(
        DynamoLeaseStore(table),
        concurrency=[("wavespeed-pro", concurrency), ("*", 5)],
        rate_per_minute=[("wavespeed-pro", rate)],
        lease_seconds=lease,
        clock=clock,
    )


def test_GIVEN_two_slots_WHEN_a_third_job_asks_THEN_it_waits_until_one_is_released(jobs_table: Any) -> None:
    clock = Clock()
    limiter = gate(jobs_table, clock, rate=0)
    limiter.acquire("wavespeed-pro", "a")
    limiter.acquire("wavespeed-pro", "b")
    limiter.acquire("wavespeed-pro", "a")  # idempotent: a retried step keeps its slot
    with pytest.raises(ProviderSlotBusyError):
        limiter.acquire("wavespeed-pro", "c")
    limiter.release("wavespeed-pro", "a")
    limiter.release("wavespeed-pro", "a")  # a second release changes nothing
    limiter.acquire("wavespeed-pro", "c")
    assert set(limiter.held("wavespeed-pro")) == {"b", "c"}


def test_GIVEN_two_starts_a_minute_WHEN_slots_are_free_THEN_the_third_start_waits_for_the_window(
    jobs_table: Any,
) -> None:
    clock = Clock()
    limiter = gate(jobs_table, clock, concurrency=10)
    limiter.acquire("wavespeed-pro", "a")
    clock.now += 20
    limiter.acquire("wavespeed-pro", "b")
    limiter.release("wavespeed-pro", "a")
    limiter.release("wavespeed-pro", "b")
    with pytest.raises(ProviderSlotBusyError) as busy:
        limiter.acquire("wavespeed-pro", "c")
    assert busy.value.retry_after == pytest.approx(41)  # the minute, plus a margin for request latency
    clock.now += 41.5
    limiter.acquire("wavespeed-pro", "c")


def test_GIVEN_a_slow_submit_WHEN_it_returns_THEN_its_start_counts_from_then_so_the_window_outlasts_the_providers(
    jobs_table: Any,
) -> None:
    clock = Clock()
    limiter = gate(jobs_table, clock, concurrency=10)
    limiter.acquire("wavespeed-pro", "a")
    limiter.acquire("wavespeed-pro", "b")
    clock.now += 5  # a's request took 5 s: the provider received it somewhere in between
    limiter.submitted("wavespeed-pro", "a")
    limiter.submitted("wavespeed-pro", "b")
    limiter.release("wavespeed-pro", "a")
    limiter.release("wavespeed-pro", "b")
    clock.now += 57  # 62 s after the leases, 57 s after the submits returned
    with pytest.raises(ProviderSlotBusyError) as busy:
        limiter.acquire("wavespeed-pro", "c")
    assert busy.value.retry_after == pytest.approx(4)
    clock.now += 4.5
    limiter.acquire("wavespeed-pro", "c")


def test_GIVEN_a_start_log_from_before_starts_named_jobs_WHEN_read_THEN_those_starts_still_count(
    jobs_table: Any,
) -> None:
    clock = Clock()
    jobs_table.put_item(
        Item={"pk": "LIMIT#wavespeed-pro", "sk": "LIMIT", "state": '{"leases":{},"starts":[990.0,995.0]}', "version": 3}
    )
    with pytest.raises(ProviderSlotBusyError):
        gate(jobs_table, clock, concurrency=10).acquire("wavespeed-pro", "c")


def test_GIVEN_a_crashed_holder_WHEN_its_lease_expires_THEN_the_slot_is_reclaimed(jobs_table: Any) -> None:
    clock = Clock()
    limiter = gate(jobs_table, clock, concurrency=1, rate=0, lease=900)
    limiter.acquire("wavespeed-pro", "crashed")
    with pytest.raises(ProviderSlotBusyError):
        limiter.acquire("wavespeed-pro", "next")
    clock.now += 901
    limiter.acquire("wavespeed-pro", "next")
    assert list(limiter.held("wavespeed-pro")) == ["next"]


def test_GIVEN_providers_WHEN_one_is_full_THEN_others_are_not_affected(jobs_table: Any) -> None:
    limiter = gate(jobs_table, Clock(), concurrency=1, rate=0)
    limiter.acquire("wavespeed-pro", "a")
    for i in range(5):
        limiter.acquire("akool", f"k{i}")  # "*" = 5
    with pytest.raises(ProviderSlotBusyError):
        limiter.acquire("akool", "k5")


def test_GIVEN_many_lambdas_racing_WHEN_they_acquire_THEN_never_more_than_the_limit_hold_a_slot(
    jobs_table: Any,
) -> None:
    limiter = gate(jobs_table, Clock(), concurrency=3, rate=0)
    won: list[str] = []
    lock = threading.Lock()

    def race(job: str) -> None:
        try:
            limiter.acquire("wavespeed-pro", job)
        except ProviderSlotBusyError:
            return
        with lock:
            won.append(job)

    threads = [threading.Thread(target=race, args=(f"j{i}",)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 <= len(won) <= 3
    assert set(limiter.held("wavespeed-pro")) == set(won)


def test_GIVEN_a_stale_version_WHEN_swapped_THEN_nothing_is_written_and_the_stored_state_comes_back(
    jobs_table: Any, count_requests: Callable[[], list[str]]
) -> None:
    from swapflow.jobs.limits import LeaseState

    store = DynamoLeaseStore(jobs_table)
    assert store.swap("engine", LeaseState({"a": 2000.0}), 0) is None
    calls = count_requests()
    lost = store.swap("engine", LeaseState({"b": 2000.0}), 0)  # another writer moved it to version 1

    assert lost == (LeaseState({"a": 2000.0}), 1) and calls == ["PutItem"]  # no read to learn what won
    assert store.swap("engine", LeaseState({"a": 2000.0, "b": 2000.0}), 1) is None
    assert store.read("engine") == (LeaseState({"a": 2000.0, "b": 2000.0}), 2)


def test_GIVEN_many_jobs_ending_at_once_WHEN_they_release_THEN_each_release_is_one_write_and_none_is_lost(
    jobs_table: Any, count_requests: Callable[[], list[str]]
) -> None:
    clock = Clock()
    limiter = gate(jobs_table, clock, concurrency=40, rate=0)
    jobs = [f"job-{i}" for i in range(24)]
    for job in jobs:
        limiter.acquire("wavespeed-pro", job)
    calls = count_requests()
    errors: list[BaseException] = []

    def end(job: str) -> None:
        try:
            limiter.release("wavespeed-pro", job)
        except BaseException as exc:  # a release that gave up would leak the slot until its lease expires
            errors.append(exc)

    enders = [threading.Thread(target=end, args=(job,)) for job in jobs]
    for t in enders:
        t.start()
    for t in enders:
        t.join()

    assert errors == [] and limiter.held("wavespeed-pro") == {}
    assert calls.count("UpdateItem") == 24 and "PutItem" not in calls  # no compare-and-set round trips
    limiter.acquire("wavespeed-pro", "next")  # an acquire after them all reads the moved version
    assert set(limiter.held("wavespeed-pro")) == {"next"}


def test_GIVEN_a_lease_item_from_before_the_map_WHEN_read_and_released_THEN_it_still_works(jobs_table: Any) -> None:
    jobs_table.put_item(
        Item={
            "pk": "LIMIT#wavespeed-pro",
            "sk": "LIMIT",
            "state": '{"leases":{"old":5000.0,"other":5000.0},"starts":[["old",990.0],995.0]}',
            "version": 7,
        }
    )
    clock = Clock()
    limiter = gate(jobs_table, clock, concurrency=3, rate=10)
    assert set(limiter.held("wavespeed-pro")) == {"old", "other"}

    limiter.release("wavespeed-pro", "old")
    limiter.acquire("wavespeed-pro", "new")  # rewrites the item in the map form

    assert set(limiter.held("wavespeed-pro")) == {"other", "new"}
    assert "state" not in jobs_table.get_item(Key={"pk": "LIMIT#wavespeed-pro", "sk": "LIMIT"})["Item"]
