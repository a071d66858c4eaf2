"""Deletion on request and retention dates, as the job service applies them (on in-memory fakes)."""

from __future__ import annotations

from typing import Any

import pytest
from native_fakes import make_service
from swapflow.jobs.exceptions import JobNotFoundError, JobStillRunningError
from swapflow.jobs.retention import DAY, Retention, parse_days

BODY = {"source_image": "https://img.example/a.jpg", "target_image": "https://img.example/b.jpg"}


class Recorder:
    """The audit log and the eraser's inbox: what the service handed them."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, dict[str, Any]]] = []
        self.requests: list[dict[str, Any]] = []

    def record(self, tenant: str, entry: dict[str, Any], at: float) -> None:
        self.entries.append((tenant, entry))

    def actions(self) -> list[str]:
        return [e["action"] for _, e in self.entries]

    def request(self, payload: dict[str, Any]) -> None:
        self.requests.append(payload)


DEFAULT = Retention()


def service(recorder: Recorder, retention: Retention = DEFAULT) -> Any:
    return make_service(audit=recorder, erase=recorder, retention=lambda tenant: retention)


def test_given_a_tenants_retention_when_a_job_ends_then_its_view_and_event_show_when_photos_go() -> None:
    recorder = Recorder()
    svc = service(recorder, Retention(inputs_days=2, outputs_days=None))
    job = svc.intake.create_job("acme", svc.intake.parse(BODY), submitted_by="key_0123456789ab")

    ended = svc.lifecycle.cancel_job("acme", job.id)

    assert ended.inputs_expire_at == pytest.approx(svc.clock() + 2 * DAY)
    assert ended.outputs_expire_at is None
    detail = svc.events.published[0][1]
    assert detail["job"]["expires_at"]["inputs"] and detail["job"]["expires_at"]["outputs"] is None
    assert svc.repo.get(job.id).inputs_expire_at == ended.inputs_expire_at
    assert recorder.entries[0][1]["key_id"] == "key_0123456789ab"


def test_given_a_running_job_when_deleted_then_refused_unless_cancel_and_then_tombstoned_and_handed_on() -> None:
    recorder = Recorder()
    svc = service(recorder)
    job = svc.intake.create_job("acme", svc.intake.parse({**BODY, "metadata": {"name": "Jane"}}))

    with pytest.raises(JobStillRunningError):
        svc.lifecycle.delete_job("acme", job.id)
    deleted = svc.lifecycle.delete_job("acme", job.id, cancel=True, by="key_aaaaaaaaaaaa")
    again = svc.lifecycle.delete_job("acme", job.id)

    assert deleted.status == "cancelled" and deleted.deleted_at and deleted.metadata == {}
    assert again.deleted_at == deleted.deleted_at
    assert recorder.requests == [{"job_id": job.id}, {"job_id": job.id}]  # the eraser is idempotent
    assert recorder.actions() == ["job.submitted", "job.deleted"]  # one deletion entry
    with pytest.raises(JobNotFoundError):
        svc.lifecycle.delete_job("other", job.id)


@pytest.mark.parametrize(("text", "keep", "days"), [("7", False, 7.0), ("0.5", False, 0.5), ("keep", True, None)])
def test_given_retention_text_when_parsed_then_days_or_keep(text: str, keep: bool, days: float | None) -> None:
    assert parse_days(text, allow_keep=keep) == days


@pytest.mark.parametrize(("text", "keep"), [("keep", False), ("-1", True), ("4000", True), ("soon", True)])
def test_given_bad_retention_text_when_parsed_then_the_rule_is_named(text: str, keep: bool) -> None:
    with pytest.raises(ValueError, match="days from 0 to 3650"):
        parse_days(text, allow_keep=keep)
