"""The `Swap Requested` Lambda end to end in-process, on the real ingest use case over in-memory fakes."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from native_fakes import make_service
from shared.fakes import FakeEvents
from swapflow.handlers.ingest import handle
from swapflow.jobs.ingest import SwapRequestIngest


class ListDeadLetters:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, body: dict[str, Any]) -> None:
        self.sent.append(body)


def _event(correlation_id: str = "order-1") -> dict[str, Any]:
    detail = {"correlation_id": correlation_id, "source_image": "data:a", "target_image": "data:b"}
    return {"id": "ev-1", "source": "acme.orders", "detail-type": "Swap Requested", "detail": detail}


def test_GIVEN_a_swap_request_and_its_duplicate_WHEN_handled_THEN_both_answer_and_log_the_job(
    caplog: pytest.LogCaptureFixture,
) -> None:
    jobs = make_service().jobs
    ingest = SwapRequestIngest(
        intake=jobs.intake,
        queries=jobs.queries,
        idempotency=jobs.idempotency,
        dead_letters=ListDeadLetters(),
        events=FakeEvents(),
        tenant="default",
    )
    caplog.set_level(logging.INFO, logger="swapflow")

    first = handle(_event(), ingest)  # used to raise KeyError: "Attempt to overwrite 'created' in LogRecord"
    again = handle(_event(), ingest)

    assert first["created"] is True and again == {"job_id": first["job_id"], "created": False}
    logged = [json.loads(r.getMessage()) if r.getMessage().startswith("{") else r.__dict__ for r in caplog.records]
    assert [r.get("new_job") for r in logged if r.get("job_id") == first["job_id"]] == [True, False]
