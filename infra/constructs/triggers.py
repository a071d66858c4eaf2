"""Entry points that start jobs without the API: S3 manifests and `Swap Requested` events (DESIGN 3).

    input bucket: ObjectCreated inbox/*.json -> S3TriggerFn (manifest -> batch, or outbox/<...>.error.json)
    bus swapflow: "Swap Requested" from any source but swapflow -> IngestFn (-> job, or DLQ + Rejected)

Rejected events are parked in the ingest dead-letter queue by IngestFn itself (with the reasons); the
same queue catches what never reached IngestFn (the rule target's DLQ after EventBridge's retries) and
invocations that kept failing (the function's on-failure destination), so nothing is dropped silently.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct
from swapflow.events import SWAP_REQUESTED

from .functions import FunctionSpec, async_failures_to, dead_letter_queue, python_function

INBOX_PREFIX = "inbox/"
MANIFEST_SUFFIX = ".json"
JSONL_SUFFIX = ".jsonl"
OWN_SOURCE = "swapflow"
# a 1,000-job manifest: judged, stored and started in seconds
S3_TRIGGER = FunctionSpec(
    "s3_trigger.handler", "swapflow: S3 manifests under inbox/ -> batches of jobs", memory_mb=512, timeout_s=300
)
INGEST = FunctionSpec(
    "ingest.handler",
    "swapflow: Swap Requested events -> jobs; invalid ones -> DLQ + Swap Request Rejected",
    memory_mb=512,
    timeout_s=60,
)


class Triggers(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        input_bucket: s3.IBucket,
        bus: events.IEventBus,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.dlq = dead_letter_queue(self, "RejectedRequests")
        self.s3_trigger_fn = self._build_s3_trigger(input_bucket, environment)
        self.ingest_fn = self._build_ingest(bus, environment)
        self.functions = [self.s3_trigger_fn, self.ingest_fn]

    def _build_s3_trigger(self, bucket: s3.IBucket, environment: dict[str, str]) -> lambda_.Function:
        fn = python_function(self, "S3TriggerFn", S3_TRIGGER, environment)
        for suffix in (MANIFEST_SUFFIX, JSONL_SUFFIX):  # JSONL (up to 100,000 jobs): the manifest runner
            bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                s3n.LambdaDestination(fn),
                s3.NotificationKeyFilter(prefix=INBOX_PREFIX, suffix=suffix),
            )
        async_failures_to(self, "S3TriggerAsync", fn, self.dlq)
        return fn

    def _build_ingest(self, bus: events.IEventBus, environment: dict[str, str]) -> lambda_.Function:
        fn = python_function(self, "IngestFn", INGEST, {**environment, "SWAPFLOW_INGEST_DLQ_URL": self.dlq.queue_url})
        self.dlq.grant_send_messages(fn)
        async_failures_to(self, "IngestAsync", fn, self.dlq)
        events.Rule(
            self,
            "SwapRequestedRule",
            event_bus=bus,
            description="Swap Requested from any source but swapflow itself starts one job",
            event_pattern=events.EventPattern(
                detail_type=[SWAP_REQUESTED],
                source=events.Match.anything_but(OWN_SOURCE),
            ),
            targets=[
                targets.LambdaFunction(
                    fn,
                    dead_letter_queue=self.dlq,
                    retry_attempts=8,
                    max_event_age=Duration.hours(2),
                )
            ],
        )
        return fn
