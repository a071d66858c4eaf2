"""Client webhook delivery (swapflow.webhooks.delivery): outcomes, the retry schedule, signing, SSRF refusal."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks import Webhook
from swapflow.jobs.exceptions import JobNotFoundError, RequestInvalidError
from swapflow.jobs.inputs import InputLoader
from swapflow.jobs.models import Job, JobStatus, Output, StoredImage, SwapSpec
from swapflow.net import FetchPolicy
from swapflow.storage.tenants import new_webhook_secret
from swapflow.webhooks import (
    RETRY_SCHEDULE,
    ClientWebhooks,
    Outcome,
    SendResult,
    TerminalEvent,
)
from swapflow.webhooks.delivery import message_id, payload

SECRET = new_webhook_secret()
NOW = 1_780_000_000.0
IMAGE = StoredImage("inputs", "k.jpg", "image/jpeg", 8, 8)


def job(
    webhook_url: str | None = "https://hooks.example.com/swap",
    tenant: str = "acme",
    status: JobStatus = JobStatus.COMPLETED,
) -> Job:
    return Job(
        id="01JOB",
        tenant=tenant,
        provider="engine",
        spec=SwapSpec(IMAGE, IMAGE),
        status=status,
        webhook_url=webhook_url,
        metadata={"order": 7},
        outputs=[Output("archive", "outputs/acme/01JOB/0.jpg", "image/jpeg", 8, 8, 100, "ab" * 32)]
        if status is JobStatus.COMPLETED
        else [],
    )


def event(status: str = "completed", detail_type: str = "Swap Job Completed", event_id: str = "ev-1") -> TerminalEvent:
    view = {"id": "01JOB", "status": status, "outputs": [], "error": None, "metadata": {"order": 7}}
    return TerminalEvent(
        event_id, detail_type, {"version": 1, "job": view, "outputs": [], "error": None, "metadata": {"order": 7}}
    )


class Repo:
    def __init__(self, found: Job | None) -> None:
        self.found = found

    def get(self, job_id: str) -> Job:
        if self.found is None or job_id != self.found.id:
            raise JobNotFoundError(job_id)
        return self.found


@dataclass
class Tenants:
    secret: str | None = SECRET
    default_url: str | None = None

    def tenant_secret(self, tenant: str) -> str | None:
        return self.secret

    def default_webhook_url(self, tenant: str) -> str | None:
        return self.default_url


@dataclass
class Claims:
    owners: dict[str, str] = field(default_factory=dict)

    def claim(self, event_id: str, owner: str) -> bool:
        return self.owners.setdefault(event_id, owner) == owner


@dataclass
class Receiver:
    """Answers each POST with the next scripted result (the last one repeats) and keeps what it got."""

    script: list[SendResult] = field(default_factory=lambda: [SendResult(200)])
    got: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        self.got.append((url, body, headers))
        return self.script[min(len(self.got) - 1, len(self.script) - 1)]


def webhooks(receiver: Receiver, *, found: Job | None = None, tenants: Tenants | None = None, **kw: Any):
    return ClientWebhooks(
        repo=Repo(found if found is not None else job()),
        tenants=tenants or Tenants(),
        claims=Claims(),
        send=receiver,
        clock=lambda: NOW,
        **kw,
    )


def run(service: ClientWebhooks, ev: TerminalEvent, owner: str = "exec-1", limit: int = 20) -> list[Any]:
    """Follow the outcomes as the state machine does: attempt, wait, attempt ... until final."""
    results = [service.attempt(ev, 0, owner)]
    while results[-1].outcome is Outcome.RETRY and len(results) < limit:
        results.append(service.attempt(ev, results[-1].attempt, owner))
    return results


def test_given_the_schedule_then_it_is_the_documented_one_about_three_days() -> None:
    assert RETRY_SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
    assert 3 * 86400 < sum(RETRY_SCHEDULE) < 4 * 86400  # within the delivery execution's 4-day timeout


def test_given_a_2xx_receiver_when_attempted_then_one_signed_post_the_library_verifies() -> None:
    receiver = Receiver([SendResult(204)])

    result = webhooks(receiver).attempt(event(), 0, "exec-1")

    assert result.outcome is Outcome.DELIVERED and result.status == 204 and result.attempt == 1
    ((url, body, headers),) = receiver.got
    assert url == "https://hooks.example.com/swap"
    assert headers["webhook-id"] == "msg_01JOB_completed" == result.webhook_id
    assert headers["webhook-timestamp"] == str(int(NOW))
    payload = json.loads(body)
    assert payload["type"] == "Swap Job Completed" and payload["metadata"] == {"order": 7}
    assert payload["job"]["id"] == "01JOB" and payload["version"] == 1
    signed_at = datetime.fromtimestamp(NOW, tz=UTC)
    assert Webhook(SECRET).sign("msg_01JOB_completed", signed_at, body.decode()) == headers["webhook-signature"]


def test_given_a_failing_receiver_when_retried_then_it_follows_the_schedule_then_dead_letters() -> None:
    receiver = Receiver([SendResult(503, "https://hooks.example.com/swap answered HTTP 503")])

    results = run(webhooks(receiver), event())

    assert len(receiver.got) == len(RETRY_SCHEDULE) == 10
    assert [r.wait for r in results[:-1]] == list(RETRY_SCHEDULE[1:])
    assert [r.attempt for r in results] == list(range(1, 11))
    assert results[-1].outcome is Outcome.DEAD_LETTER
    assert results[-1].error == "https://hooks.example.com/swap answered HTTP 503" and results[-1].status == 503
    assert {h["webhook-id"] for _, _, h in receiver.got} == {"msg_01JOB_completed"}


def test_given_a_receiver_that_fails_twice_when_retried_then_the_third_attempt_delivers() -> None:
    receiver = Receiver([SendResult(500), SendResult(None, "timed out"), SendResult(200)])

    results = run(webhooks(receiver), event())

    assert [r.outcome for r in results] == [Outcome.RETRY, Outcome.RETRY, Outcome.DELIVERED]
    assert [r.wait for r in results[:2]] == [5, 300]
    assert results[0].error == "the receiver answered HTTP 500" and results[1].error == "timed out"


def test_given_410_gone_when_attempted_then_delivery_stops_without_dead_letter() -> None:
    result = webhooks(Receiver([SendResult(410)])).attempt(event(), 3, "exec-1")

    assert result.outcome is Outcome.GONE and result.status == 410


@pytest.mark.parametrize("status", [301, 400, 401, 404, 429, 500])
def test_given_other_statuses_when_attempted_then_retried(status: int) -> None:
    assert webhooks(Receiver([SendResult(status)])).attempt(event(), 0, "e").outcome is Outcome.RETRY


def test_given_a_refused_url_at_delivery_when_attempted_then_dead_lettered_at_once() -> None:
    refused = SendResult(None, "the host resolves to a non-public address (10.0.0.7)", refused=True)

    result = webhooks(Receiver([refused])).attempt(event(), 0, "e")

    assert result.outcome is Outcome.DEAD_LETTER and "10.0.0.7" in (result.error or "")


def test_given_a_short_test_schedule_when_failing_then_dead_letters_after_its_last_try() -> None:
    receiver = Receiver([SendResult(500)])

    results = run(webhooks(receiver, schedule=(0, 5, 300)), event())

    assert len(receiver.got) == 3 and results[-1].outcome is Outcome.DEAD_LETTER


@pytest.mark.parametrize("schedule", [(), (5, 300), (0, -1)])
def test_given_a_schedule_not_starting_at_zero_then_refused(schedule: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        webhooks(Receiver(), schedule=schedule)


def test_given_no_job_url_when_the_tenant_has_a_default_then_it_receives_the_event() -> None:
    receiver = Receiver()
    tenants = Tenants(default_url="https://tenant.example.com/all")

    result = webhooks(receiver, found=job(webhook_url=None), tenants=tenants).attempt(event(), 0, "e")

    assert result.outcome is Outcome.DELIVERED and receiver.got[0][0] == "https://tenant.example.com/all"


def test_given_the_job_url_and_a_tenant_default_then_the_job_url_wins() -> None:
    receiver = Receiver()
    webhooks(receiver, tenants=Tenants(default_url="https://tenant.example.com/all")).attempt(event(), 0, "e")

    assert receiver.got[0][0] == "https://hooks.example.com/swap"


def test_given_no_url_anywhere_or_no_job_when_attempted_then_skipped_without_a_post() -> None:
    receiver = Receiver()

    assert webhooks(receiver, found=job(webhook_url=None)).attempt(event(), 0, "e").outcome is Outcome.SKIPPED
    missing = ClientWebhooks(repo=Repo(None), tenants=Tenants(), claims=Claims(), send=receiver)
    assert missing.attempt(event(), 0, "e").outcome is Outcome.SKIPPED
    assert receiver.got == []


def test_given_a_second_execution_for_the_same_event_when_attempted_then_duplicate_and_no_post() -> None:
    receiver = Receiver([SendResult(500)])
    service = webhooks(receiver)

    first = service.attempt(event(), 0, "exec-1")
    again = service.attempt(event(), 1, "exec-1")  # the owner's own retry goes on
    other = service.attempt(event(), 0, "exec-2")

    assert (first.outcome, again.outcome, other.outcome) == (Outcome.RETRY, Outcome.RETRY, Outcome.DUPLICATE)
    assert len(receiver.got) == 2


def test_given_the_event_put_on_the_bus_again_when_attempted_then_redelivered_with_the_same_webhook_id() -> None:
    receiver = Receiver()
    service = webhooks(receiver)

    service.attempt(event(event_id="ev-1"), 0, "exec-1")
    redriven = service.attempt(event(event_id="ev-2"), 0, "exec-2")

    assert redriven.outcome is Outcome.DELIVERED
    assert [h["webhook-id"] for _, _, h in receiver.got] == ["msg_01JOB_completed"] * 2


def test_given_a_tenant_without_secret_when_attempted_then_retried_with_the_reason_and_no_post() -> None:
    receiver = Receiver()

    result = webhooks(receiver, tenants=Tenants(secret=None)).attempt(event(), 0, "e")

    assert result.outcome is Outcome.RETRY and "no webhook signing secret" in (result.error or "")
    assert receiver.got == []


def test_given_each_terminal_state_then_message_ids_differ_and_the_type_is_the_stored_jobs() -> None:
    failed = job(status=JobStatus.FAILED)

    assert message_id(failed) == "msg_01JOB_failed" != message_id(job())
    assert json.loads(payload(failed, []))["type"] == "Swap Job Failed"


def test_given_a_forged_event_for_an_ended_job_when_delivered_then_only_the_stored_job_is_sent() -> None:
    """A `Swap Job Completed` put on the bus by anyone: another status, outputs pointing elsewhere."""
    receiver = Receiver([SendResult(200)])
    forged = TerminalEvent(
        "forged-1",
        "Swap Job Completed",
        {
            "version": 1,
            "job": {"id": "01JOB", "status": "completed "},
            "outputs": [{"url": "https://evil.example/x.jpg"}],
            "metadata": {"pay": "now"},
        },
    )

    result = webhooks(receiver, found=job(status=JobStatus.FAILED)).attempt(forged, 0, "exec-9")

    ((_, body, headers),) = receiver.got
    sent = json.loads(body)
    assert result.outcome is Outcome.DELIVERED and headers["webhook-id"] == "msg_01JOB_failed"
    assert sent["type"] == "Swap Job Failed" and sent["job"]["status"] == "failed"
    assert sent["outputs"] == [] and sent["metadata"] == {"order": 7} and "evil" not in body.decode()


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.PROCESSING])
def test_given_an_event_for_a_job_still_open_when_delivered_then_nothing_is_sent(status: JobStatus) -> None:
    receiver = Receiver()

    result = webhooks(receiver, found=job(status=status)).attempt(event(), 0, "exec-1")

    assert result.outcome is Outcome.SKIPPED and receiver.got == []


@pytest.mark.parametrize("detail", [{}, {"job": "01JOB"}, {"job": {"id": 7}}, {"job": None}])
def test_given_an_event_without_a_job_id_when_delivered_then_it_is_skipped(detail: dict[str, Any]) -> None:
    receiver = Receiver()

    result = webhooks(receiver).attempt(TerminalEvent("e", "Swap Job Completed", detail), 0, "x")

    assert result.outcome is Outcome.SKIPPED and receiver.got == []


def test_given_result_when_serialised_then_the_state_machine_reads_outcome_attempt_and_wait() -> None:
    result = webhooks(Receiver([SendResult(500)])).attempt(event(), 1, "e").to_dict()

    assert result["outcome"] == "retry" and result["attempt"] == 2 and result["wait"] == 300
    assert json.loads(json.dumps(result)) == result


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("https://10.0.0.5/hook", False),
        ("https://169.254.169.254/latest/meta-data", False),
        ("https://127.0.0.1:8443/hook", False),
        ("http://192.168.1.10/hook", True),  # local mode lets loopback through, nothing else
        ("http://[::1]:9000/hook", False),
        ("http://hooks.example.com/plain-http", False),
    ],
)
def test_given_a_private_or_loopback_webhook_url_when_checked_at_submit_then_url_not_allowed(
    url: str, local: bool
) -> None:
    loader = InputLoader(None, input_bucket="in", policy=FetchPolicy.for_mode(local), max_pixels=1, max_bytes=1)  # type: ignore[arg-type]

    with pytest.raises(RequestInvalidError) as refused:
        loader.check_callback_url(url, "webhook_url")

    assert refused.value.code == "url_not_allowed" and refused.value.field == "webhook_url"


def test_given_local_mode_when_a_loopback_webhook_url_is_checked_then_allowed() -> None:
    loader = InputLoader(None, input_bucket="in", policy=FetchPolicy.for_mode(True), max_pixels=1, max_bytes=1)  # type: ignore[arg-type]

    loader.check_callback_url("http://127.0.0.1:9000/hook", "webhook_url")


@dataclass
class Retries:
    started: list[tuple[str, Outcome, str]] = field(default_factory=list)

    def start(self, event: TerminalEvent, result: Any, owner: str) -> None:
        self.started.append((event.event_id, result.outcome, owner))


def test_given_a_2xx_receiver_when_first_attempted_then_delivered_without_a_retry_machine() -> None:
    receiver, retries = Receiver([SendResult(200)]), Retries()

    result = webhooks(receiver, retries=retries).first_attempt(event(), owner="req-1")

    assert result.outcome is Outcome.DELIVERED and len(receiver.got) == 1
    assert retries.started == []


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [(SendResult(503), Outcome.RETRY), (SendResult(None, "private address", refused=True), Outcome.DEAD_LETTER)],
)
def test_given_a_failed_first_attempt_then_the_retry_machine_takes_over_as_the_same_owner(
    answer: SendResult, outcome: Outcome
) -> None:
    receiver, retries = Receiver([answer, SendResult(200)]), Retries()
    service = webhooks(receiver, retries=retries)

    first = service.first_attempt(event(), owner="req-1")

    assert first.outcome is outcome and retries.started == [("ev-1", outcome, "req-1")]
    if outcome is Outcome.RETRY:  # the machine's next attempt, as the owner that claimed the event
        assert service.attempt(event(), first.attempt, "req-1").outcome is Outcome.DELIVERED


def test_given_eventbridge_delivering_an_event_twice_when_first_attempted_then_one_post() -> None:
    receiver, retries = Receiver([SendResult(200)]), Retries()
    service = webhooks(receiver, retries=retries)

    assert service.first_attempt(event(), owner="req-1").outcome is Outcome.DELIVERED
    assert service.first_attempt(event(), owner="req-2").outcome is Outcome.DUPLICATE
    assert len(receiver.got) == 1 and retries.started == []
