"""Outgoing client webhooks on the local stack: a receiver on 127.0.0.1 gets each job's terminal event,
signed per Standard Webhooks v1 (verified with the `standardwebhooks` library), retried on the schedule.

The stack runs with SWAPFLOW_TIME_SCALE=0.01 and the test-only SWAPFLOW_WEBHOOK_RETRY_SCHEDULE="0,5,300":
the first three steps of the real schedule (scaled to 0, 0.05 s and 3 s), so a receiver that never
answers 2xx reaches the DLQ after its third attempt instead of after three days.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from standardwebhooks import Webhook

from infra.local.client import data_uri

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures" / "images"
IMAGES = {"source_image": data_uri(FIXTURES / "source.jpg"), "target_image": data_uri(FIXTURES / "target.jpg")}
TEST_SCHEDULE = "0,5,300"
TIME_SCALE = 0.01


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A client's webhook endpoint. `answers[path]` lists the statuses to give, in order (the last repeats)."""

    base_url: str = ""
    answers: dict[str, list[int]] = field(default_factory=dict)
    got: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def endpoint(self, *statuses: int) -> str:
        path = f"/hooks/{uuid.uuid4().hex}"
        self.answers[path] = list(statuses) or [200]
        return self.base_url + path

    def deliveries(self, url: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.got if self.base_url + d.path == url]

    def wait_for(self, url: str, count: int, timeout: float = 30.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while len(self.deliveries(url)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.deliveries(url)

    def answer(self, delivery: Delivery) -> int:
        with self.lock:
            made = sum(1 for d in self.got if d.path == delivery.path)
            self.got.append(delivery)
        script = self.answers.get(delivery.path, [404])
        return script[min(made, len(script) - 1)]


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = state.answer(Delivery(self.path, dict(self.headers), body, time.monotonic()))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    from e2e_stack import loopback_server

    with loopback_server(Handler) as base_url:
        state.base_url = base_url
        yield state


@pytest.fixture(scope="session")  # session, like the other stacks: xdist may interleave modules
def webhook_stack(template_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from e2e_stack import running_stack

    with running_stack(
        template_path,
        tmp_path_factory.mktemp("webhooks") / "up.log",
        SWAPFLOW_TIME_SCALE=str(TIME_SCALE),
        SWAPFLOW_WEBHOOK_RETRY_SCHEDULE=TEST_SCHEDULE,
    ) as running:
        yield running


def run_job(stack: Any, webhook_url: str, **extra: Any) -> dict[str, Any]:
    api = stack.client()
    accepted = api.submit({**IMAGES, "webhook_url": webhook_url, **extra})
    return api.wait(accepted["id"], timeout=120)


def verified(stack: Any, delivery: Delivery) -> dict[str, Any]:
    payload: dict[str, Any] = Webhook(stack.summary["webhook_secret"]).verify(delivery.body, delivery.headers)
    return payload


def test_given_a_job_with_webhook_url_when_it_completes_then_one_signed_delivery_that_verifies(
    webhook_stack, receiver
) -> None:
    url = receiver.endpoint(200)

    job = run_job(webhook_stack, url, metadata={"order": 42})
    receiver.wait_for(url, 1)
    time.sleep(0.5)  # a second (wrong) delivery would arrive within this window

    assert job["status"] == "completed", job
    (delivery,) = receiver.deliveries(url)
    payload = verified(webhook_stack, delivery)
    assert payload["type"] == "Swap Job Completed" and payload["version"] == 1
    assert payload["job"]["id"] == job["id"] and payload["job"]["status"] == "completed"
    assert payload["metadata"] == {"order": 42} and payload["outputs"][0]["key"] == job["outputs"][0]["key"]
    assert delivery.headers["webhook-id"] == f"msg_{job['id']}_completed"
    assert delivery.headers["Content-Type"] == "application/json"


def test_given_a_receiver_failing_twice_when_delivered_then_three_attempts_with_one_webhook_id(
    webhook_stack, receiver
) -> None:
    url = receiver.endpoint(500, 503, 200)

    job = run_job(webhook_stack, url)
    attempts = receiver.wait_for(url, 3)
    time.sleep(0.5)

    assert len(receiver.deliveries(url)) == 3
    assert {a.headers["webhook-id"] for a in attempts} == {f"msg_{job['id']}_{job['status']}"}
    assert all(verified(webhook_stack, a)["job"]["id"] == job["id"] for a in attempts)  # each re-signed
    assert attempts[2].at - attempts[1].at >= 300 * TIME_SCALE * 0.9  # the third waited the (scaled) 5 minutes


def test_given_a_receiver_that_always_fails_when_the_schedule_ends_then_the_dlq_holds_the_last_error(
    webhook_stack, receiver
) -> None:
    url = receiver.endpoint(503)

    job = run_job(webhook_stack, url)
    attempts = receiver.wait_for(url, 3)
    message = dead_letter_for(webhook_stack, job["id"])

    assert len(attempts) == len(TEST_SCHEDULE.split(",")) == 3
    assert message["delivery"]["outcome"] == "dead_letter" and message["delivery"]["attempt"] == 3
    assert message["delivery"]["status"] == 503 and "503" in message["delivery"]["error"]
    assert message["delivery"]["webhook_id"] == attempts[0].headers["webhook-id"]
    assert message["event"]["detail"]["job"]["id"] == job["id"]
    assert len(receiver.deliveries(url)) == 3  # nothing after the dead letter


@pytest.mark.parametrize(
    "webhook_url",
    ["http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data", "http://192.168.0.10:8080/hook"],
)
def test_given_a_private_webhook_url_when_submitted_then_400_url_not_allowed_and_no_job(
    webhook_stack, webhook_url: str
) -> None:
    status, _, body = webhook_stack.client().request("POST", "/v1/jobs", {**IMAGES, "webhook_url": webhook_url})

    assert status == 400, body
    assert body["error"]["code"] == "url_not_allowed" and body["error"]["field"] == "webhook_url"


def dead_letter_for(stack: Any, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
    sqs = stack.boto("sqs")
    (queue_url,) = [u for u in sqs.list_queues()["QueueUrls"] if "UndeliveredWebhooks" in u]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(message["Body"])
            if body.get("event", {}).get("detail", {}).get("job", {}).get("id") == job_id:
                return dict(body)
        time.sleep(0.2)
    raise AssertionError(f"no dead letter for job {job_id} within {timeout} s")
