"""One attempt at delivering a job's terminal event to the client's webhook, and what to do next.

The first attempt is made at once by the Lambda the EventBridge rule invokes (`first_attempt`): most
deliveries succeed then and cost one invocation, no state machine. Only an attempt that asks for a
retry (or the DLQ) starts the delivery state machine (infra/constructs/client_webhooks.py), which
calls `ClientWebhooks.attempt` again after each `wait` the result names, until the outcome is final:

* `delivered` (2xx), `gone` (410: the client asked us to stop), `skipped` (no webhook URL: neither
  the job's nor the tenant's default), `duplicate` (another execution owns this event: EventBridge
  delivered it twice) -> the execution succeeds;
* `retry` -> wait `RETRY_SCHEDULE[attempt]` seconds, then try again (any other status, a timeout, a
  connection error);
* `dead_letter` -> the message and the last error go to the DLQ: the schedule is exhausted, or the
  URL is refused by the SSRF guard (resolving to a private address is not a transient failure).

An event put on the bus again (a redrive from the DLQ: `aws events put-events` with its `event`) gets
a new event id and so a fresh delivery with the same `webhook-id`; receivers deduplicate on that id.

The schedule lives here, not in the state machine, so that it is plain data with unit tests; the
state machine only follows `wait`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from ..events import JOB_CANCELLED, JOB_COMPLETED, JOB_FAILED
from ..jobs.exceptions import JobNotFoundError
from ..jobs.models import Job
from .signing import SigningSecretInvalidError, signed_headers

if TYPE_CHECKING:
    from ..net import FetchPolicy

#: Seconds to wait before each attempt: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h
#: (75.6 hours in all), then the DLQ.
RETRY_SCHEDULE: tuple[int, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)

#: The terminal events a client webhook receives (EventBridge detail types on the `swapflow` bus).
DELIVERED_EVENTS = (JOB_COMPLETED, JOB_FAILED, JOB_CANCELLED)

USER_AGENT = "swapflow-webhooks/1"
ANSWER_MAX_BYTES = 64 * 1024


class Outcome(StrEnum):
    DELIVERED = "delivered"
    GONE = "gone"
    SKIPPED = "skipped"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True)
class TerminalEvent:
    """A job's terminal event as EventBridge carried it: its id, detail type and detail (DESIGN 3).

    Only its id and the job id are used: events are announcements, never commands (DESIGN 7), so what is
    signed and sent is built from the stored job, whoever put the event on the bus and whatever it says.
    """

    event_id: str
    detail_type: str
    detail: dict[str, Any]

    @property
    def job_id(self) -> str:
        job = self.detail.get("job") if isinstance(self.detail, dict) else None
        job_id = job.get("id") if isinstance(job, dict) else None
        return job_id if isinstance(job_id, str) else ""


def message_id(job: Job) -> str:
    """`webhook-id`: one per job and terminal state, so stable across retries and re-emitted events."""
    return f"msg_{job.id}_{job.status}"


def payload(job: Job, output_urls: list[str]) -> bytes:
    """The body: the job's terminal event detail (from the record) with `type` = the detail type."""
    detail_type, detail = job.terminal_event(output_urls)
    return json.dumps({"type": detail_type, **detail}, separators=(",", ":"), default=str).encode()


@dataclass(frozen=True)
class SendResult:
    """What the receiver answered: an HTTP status, or no status and an error (timeout, refused, ...)."""

    status: int | None
    error: str | None = None
    refused: bool = False  # the SSRF guard refused the URL: retrying will not help


@dataclass(frozen=True)
class AttemptResult:
    """The state machine's `$.delivery`: `attempt` and `wait` say when and which attempt comes next."""

    outcome: Outcome
    attempt: int  # the index of the next attempt (= attempts made so far)
    wait: int = 0  # seconds before the next attempt (outcome `retry`)
    webhook_id: str = ""
    status: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "outcome": str(self.outcome)}


class JobLookup(Protocol):
    def get(self, job_id: str) -> Job:
        """Raises JobNotFoundError (the job repository does)."""


class WebhookTenants(Protocol):
    """What delivery needs to know about a tenant."""

    def tenant_secret(self, tenant: str) -> str | None:
        """The tenant's `whsec_` signing secret."""

    def default_webhook_url(self, tenant: str) -> str | None:
        """Where the tenant's jobs without their own `webhook_url` are announced, if anywhere."""


class DeliveryClaims(Protocol):
    def claim(self, event_id: str, owner: str) -> bool:
        """True if `owner` (a delivery execution) owns the event: claimed now or by itself before."""


class RetryStarter(Protocol):
    def start(self, event: TerminalEvent, result: AttemptResult, owner: str) -> None:
        """Start the durable retry of `event` (idempotent per event) from `result`, as `owner`."""


Sender = Callable[[str, bytes, dict[str, str]], SendResult]


class ClientWebhooks:
    def __init__(
        self,
        *,
        repo: JobLookup,
        tenants: WebhookTenants,
        claims: DeliveryClaims,
        send: Sender,
        presign: Callable[[str, str], str] = lambda bucket, key: "",
        schedule: Sequence[int] = RETRY_SCHEDULE,
        clock: Callable[[], float] = time.time,
        retries: RetryStarter | None = None,
    ) -> None:
        if not schedule or schedule[0] != 0 or any(s < 0 for s in schedule):
            raise ValueError("a webhook retry schedule starts with 0 and has no negative waits")
        self.repo = repo
        self.tenants = tenants
        self.claims = claims
        self.send = send
        self.presign = presign  # (bucket, key) -> an output's download URL
        self.schedule = tuple(schedule)
        self.clock = clock
        self.retries = retries

    def first_attempt(self, event: TerminalEvent, owner: str) -> AttemptResult:
        """Attempt 0, made directly; a retry or a dead letter is handed to the durable retry machine.

        `owner` is the invocation's request id: a retried invocation of the same event keeps its claim,
        a second delivery of the event by EventBridge (another request id) is a `duplicate`.
        """
        result = self.attempt(event, 0, owner)
        if result.outcome in (Outcome.RETRY, Outcome.DEAD_LETTER):
            if self.retries is None:
                raise RuntimeError("no retry machine configured for client webhooks")
            self.retries.start(event, result, owner)
        return result

    def attempt(self, event: TerminalEvent, attempt: int, owner: str) -> AttemptResult:
        """Make attempt number `attempt` (0-based) of `event`'s delivery; say what comes next.

        The event only names the job: the stored job decides whether anything is sent, and what."""
        try:
            job = self.repo.get(event.job_id)
        except JobNotFoundError:
            return AttemptResult(Outcome.SKIPPED, attempt, error="the job no longer exists")
        webhook_id = message_id(job)
        if not job.terminal:  # an event for a job that has not ended was not ours: nothing is sent
            return AttemptResult(Outcome.SKIPPED, attempt, webhook_id=webhook_id, error="the job has not ended")
        url = job.webhook_url or self.tenants.default_webhook_url(job.tenant)
        if not url:
            return AttemptResult(Outcome.SKIPPED, attempt, webhook_id=webhook_id)
        if not self.claims.claim(event.event_id, owner):
            return AttemptResult(Outcome.DUPLICATE, attempt, webhook_id=webhook_id)
        body = payload(job, [self.presign(o.bucket, o.key) for o in job.outputs])
        secret = self.tenants.tenant_secret(job.tenant)
        try:
            if not secret:
                raise SigningSecretInvalidError(f"tenant {job.tenant} has no webhook signing secret")
            headers = signed_headers(secret, webhook_id, int(self.clock()), body)
        except SigningSecretInvalidError as exc:
            result = SendResult(None, str(exc))  # fixable by an operator: keep retrying on the schedule
        else:
            result = self.send(url, body, headers)
        return self._next(result, attempt + 1, webhook_id)

    def _next(self, result: SendResult, made: int, message_id: str) -> AttemptResult:
        if result.status is not None and 200 <= result.status < 300:
            return AttemptResult(Outcome.DELIVERED, made, webhook_id=message_id, status=result.status)
        if result.status == 410:
            return AttemptResult(Outcome.GONE, made, webhook_id=message_id, status=410)
        error = result.error or f"the receiver answered HTTP {result.status}"
        if result.refused or made >= len(self.schedule):
            return AttemptResult(Outcome.DEAD_LETTER, made, webhook_id=message_id, status=result.status, error=error)
        wait = self.schedule[made]
        return AttemptResult(Outcome.RETRY, made, wait, webhook_id=message_id, status=result.status, error=error)


def http_sender(policy: FetchPolicy) -> Sender:
    """POST through `net.fetch`: the SSRF guard again (DNS re-checked now), no redirects, capped time."""
    from dataclasses import replace

    from .. import net

    # A redirect is a failed attempt (a POST must not turn into a GET elsewhere); the answer's body is
    # not needed, so it is capped small.
    webhook_policy = replace(policy, max_redirects=0, max_bytes=ANSWER_MAX_BYTES)

    def send(url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
        try:
            answer = net.fetch(url, webhook_policy, headers=all_headers, method="POST", body=body)
        except net.FetchError as exc:
            if exc.code == "too_large":  # raised only while reading a 2xx answer: it was delivered
                return SendResult(200)
            return SendResult(exc.status, exc.message, refused=exc.code == "url_not_allowed")
        return SendResult(answer.status)

    return send
