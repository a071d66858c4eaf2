"""Outgoing client webhooks: each job's terminal event, signed per Standard Webhooks v1, retried for days.

Why it is built this way (AWS-native, no timers of our own):

* An EventBridge rule on the `swapflow` bus (Swap Job Completed | Failed | Cancelled) starts one
  execution of a small Standard Step Functions state machine per event. The finisher stays as it is:
  it emits the event and is done; a slow or dead receiver never holds up a job.
* The execution *is* the retry timer: Deliver (Lambda, one HTTP attempt) -> Choice -> Wait
  (`SecondsPath` = the next delay of `RETRY_SCHEDULE`) -> Deliver ... A Standard execution may wait
  up to a year and survives deploys and Lambda failures, so the 3-day schedule (0, 5 s, 5 min,
  30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h) needs no queue of our own: SQS delays stop at 15 min
  and would need re-queueing, EventBridge Scheduler would need a schedule per attempt. The cost is a
  handful of state transitions per job; a Lambda only runs while an attempt is in flight.
* When the schedule is exhausted (or the SSRF guard refuses the URL), the state machine puts the
  message and the last error on an encrypted SQS dead-letter queue through the SQS service
  integration (no Lambda), which an alarm watches; the same queue receives events EventBridge could
  not hand to the state machine.

The domain here is plain Python (`delivery`, `signing`); the adapters are `net.fetch` (SSRF guard at
send time too) and the DynamoDB tenant and claim records (`storage`).
"""

from .delivery import (
    DELIVERED_EVENTS,
    RETRY_SCHEDULE,
    AttemptResult,
    ClientWebhooks,
    DeliveryClaims,
    Outcome,
    RetryStarter,
    SendResult,
    TerminalEvent,
    WebhookTenants,
    http_sender,
)
from .signing import SigningSecretInvalidError, secret_key, signature, signed_headers

__all__ = [
    "DELIVERED_EVENTS",
    "RETRY_SCHEDULE",
    "AttemptResult",
    "ClientWebhooks",
    "DeliveryClaims",
    "Outcome",
    "RetryStarter",
    "SendResult",
    "SigningSecretInvalidError",
    "TerminalEvent",
    "WebhookTenants",
    "http_sender",
    "secret_key",
    "signature",
    "signed_headers",
]
