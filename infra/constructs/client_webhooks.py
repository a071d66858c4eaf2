"""Outgoing client webhooks: terminal job events -> a first attempt at once -> retries in a state machine.

    EventBridge rule (bus `swapflow`, Swap Job Completed | Failed | Cancelled)
      -> FirstAttemptFn (Lambda, async: one signed POST; EventBridge retries, then the DLQ)
         delivered / gone / no URL / duplicate: done, no state machine at all
         retry or dead_letter -> starts the Standard delivery machine (execution name = event id):
           Outcome (of the attempt so far)
             retry        -> Backoff (Wait, SecondsPath = $.delivery.wait) -> Deliver (Lambda) -> Outcome
             dead_letter  -> ToDeadLetters (SQS SendMessage: event + last error) -> Undelivered
             otherwise    -> Delivered (2xx, 410 gone, no webhook URL, duplicate event)

Why the first attempt outside the machine: most deliveries succeed at once, and a Standard execution
per event cost more than the rest of a job's orchestration. Two functions run the same handler so the
first-attempt one may name the machine (start it) without a dependency cycle.

Why a state machine for retries: a Standard execution can wait for days, survives deploys and Lambda failures,
and shows every attempt in its history, so the 3-day retry schedule (swapflow.webhooks.RETRY_SCHEDULE)
needs no timers or re-queueing of our own (SQS delays stop at 15 minutes). The schedule itself is data
in the Deliver Lambda, which answers how long to wait next; the dead-letter step is a service
integration, so a message reaches the DLQ even when the Lambda keeps failing.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .functions import (
    FunctionSpec,
    dead_letter_queue,
    lambda_failures,
    lambda_task,
    python_function,
    standard_state_machine,
)

# The events a client webhook receives (swapflow.webhooks.DELIVERED_EVENTS; a test keeps them equal).
DELIVERED_EVENTS = ["Swap Job Completed", "Swap Job Failed", "Swap Job Cancelled"]
# The partition-key prefix of delivery claims (swapflow.storage.webhooks): the only items the Lambda writes.
CLAIM_PREFIX = "WEBHOOK#"
# Longer than the whole retry schedule (75.6 hours): a stuck execution still ends.
DELIVERY_TIMEOUT = Duration.days(4)
# one attempt: SWAPFLOW_WEBHOOK_TIMEOUT_SECONDS (10) + the lookups
DELIVER = FunctionSpec(
    "client_webhook.handler",
    "swapflow: one signed delivery attempt of a job's terminal event to the client",
    memory_mb=256,
)


class ClientWebhooks(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        table: dynamodb.ITable,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.dlq = dead_letter_queue(self, "UndeliveredWebhooks")
        self.deliver_fn = self._build_function("DeliverFn", table, environment)
        self.state_machine = self._build_state_machine()
        self.first_attempt_fn = self._build_function(
            "FirstAttemptFn",
            table,
            {**environment, "SWAPFLOW_WEBHOOK_STATE_MACHINE_ARN": self.state_machine.state_machine_arn},
        )
        self.state_machine.grant_start_execution(self.first_attempt_fn)
        # An invocation that keeps failing (not the receiver: that is an answer) ends in the DLQ too.
        self.first_attempt_fn.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.dlq), retry_attempts=2, max_event_age=Duration.hours(6)
        )
        self._build_rule(bus)

    def _build_function(
        self, construct_id: str, table: dynamodb.ITable, environment: dict[str, str]
    ) -> lambda_.Function:
        fn = python_function(self, construct_id, DELIVER, environment)
        table.grant(fn, "dynamodb:GetItem")  # the job (its webhook_url, tenant) and the tenant's secret
        fn.add_to_role_policy(  # the delivery claim is the one item it writes
            iam.PolicyStatement(
                actions=["dynamodb:PutItem"],
                resources=[table.table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{CLAIM_PREFIX}*"]}},
            )
        )
        return fn

    def _build_state_machine(self) -> sfn.StateMachine:
        return standard_state_machine(self, "DeliveryStateMachine", self._build_definition(), timeout=DELIVERY_TIMEOUT)

    def _build_definition(self) -> sfn.IChainable:
        deliver = lambda_task(
            self,
            "Deliver",
            self.deliver_fn,
            payload={
                "event": sfn.JsonPath.object_at("$.event"),
                "attempt": sfn.JsonPath.number_at("$.delivery.attempt"),
                "execution": sfn.JsonPath.string_at("$.owner"),  # who claimed the event first
            },
            # The Lambda failing (not the receiver: that is an answer) is retried here, then dead-lettered.
            lambda_retry=lambda_failures(attempts=3),
            result_path="$.delivery",
        )
        backoff = sfn.Wait(self, "Backoff", time=sfn.WaitTime.seconds_path("$.delivery.wait"))
        to_dead_letters = tasks.SqsSendMessage(
            self,
            "ToDeadLetters",
            queue=self.dlq,
            message_body=sfn.TaskInput.from_json_path_at("$"),  # {event, delivery: {error, ...}, failure?}
            result_path=sfn.JsonPath.DISCARD,
        )
        to_dead_letters.add_retry(errors=["States.ALL"], interval=Duration.seconds(1), backoff_rate=2, max_attempts=3)
        undelivered = sfn.Fail(
            self, "Undelivered", error="WebhookUndelivered", cause="Every attempt failed; the event is in the DLQ."
        )
        deliver.add_catch(to_dead_letters, errors=["States.ALL"], result_path="$.failure")
        outcome = (
            sfn.Choice(self, "Outcome")
            .when(sfn.Condition.string_equals("$.delivery.outcome", "retry"), backoff)
            .when(sfn.Condition.string_equals("$.delivery.outcome", "dead_letter"), to_dead_letters)
            .otherwise(sfn.Succeed(self, "Delivered", comment="Delivered, gone (410), no URL, or a duplicate."))
        )
        backoff.next(deliver)
        to_dead_letters.next(undelivered)
        deliver.next(outcome)
        return outcome

    def _build_rule(self, bus: events.IEventBus) -> events.Rule:
        return events.Rule(
            self,
            "TerminalJobEvents",
            event_bus=bus,
            description="Each job's terminal event starts its client webhook delivery",
            event_pattern=events.EventPattern(source=["swapflow"], detail_type=DELIVERED_EVENTS),
            targets=[
                targets.LambdaFunction(
                    self.first_attempt_fn,
                    dead_letter_queue=self.dlq,  # an event EventBridge could not hand over lands there too
                    max_event_age=Duration.hours(24),
                    retry_attempts=185,
                )
            ],
        )
