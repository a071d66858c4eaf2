"""The one way this stack builds a Python Lambda: runtime, tracing, log retention, shared settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from ..bundling import ARCHITECTURE, RUNTIME, function_code
from ..nag import XRAY_ONLY, acknowledge_star

# SendTaskSuccess/Failure/Heartbeat support no resource-level permissions: the token is the scope.
SEND_TASK_RESULT = iam.PolicyStatement(
    actions=["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
    resources=["*"],
)


def grant_task_callbacks(fn: lambda_.Function) -> None:
    """Complete Step Functions task tokens (waits, batch slots); acknowledged on this function alone."""
    fn.add_to_role_policy(SEND_TASK_RESULT)
    acknowledge_star(
        fn, XRAY_ONLY[:-1] + "; neither do task-token callbacks (states:SendTask*: the token is the scope)."
    )


def dead_letter_queue(scope: Construct, construct_id: str) -> sqs.Queue:
    """Where work that failed or was refused is parked: SSE, TLS only, kept 14 days (SQS's longest)."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )


def async_failures_to(
    scope: Construct,
    construct_id: str,
    fn: lambda_.IFunction,
    dlq: sqs.IQueue,
    *,
    retry_attempts: int = 2,
    max_event_age: Duration | None = None,
) -> lambda_.EventInvokeConfig:
    """An asynchronous invocation that keeps failing ends in `dlq` (after Lambda's own retries), not nowhere."""
    on_failure = destinations.SqsDestination(dlq)
    return lambda_.EventInvokeConfig(
        scope,
        construct_id,
        function=fn,
        retry_attempts=retry_attempts,
        max_event_age=max_event_age,
        on_failure=on_failure,
    )


def grant_read_put(fn: lambda_.IFunction, bucket: s3.IBucket) -> None:
    """Read the bucket and put objects in it: nothing in swapflow deletes, aborts uploads or sets retention,
    so CDK's grant_read_write (DeleteObject*, Abort*, PutObjectRetention, ...) is more than any function needs."""
    bucket.grant_read(fn)
    fn.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects("*")]))


LAMBDA_SERVICE_ERRORS = [
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
]


class Retry(NamedTuple):
    """One Retry row of a Lambda task (always with full jitter): a table of these reads like the ASL."""

    errors: list[str]
    interval_s: int
    backoff: float
    max_delay_s: int | None
    attempts: int


def lambda_failures(*, interval_s: int = 2, attempts: int = 4) -> Retry:
    """Lambda itself failing or the function raising (States.TaskFailed); tried after a task's own rows,
    since States.TaskFailed matches every error the function names."""
    return Retry([*LAMBDA_SERVICE_ERRORS, "States.TaskFailed"], interval_s, 2, None, attempts)


def add_retries(task: sfn.TaskStateBase, retries: Sequence[Retry]) -> None:
    """Apply the rows in order: Step Functions takes the first row whose errors match."""
    for retry in retries:
        task.add_retry(
            errors=retry.errors,
            interval=Duration.seconds(retry.interval_s),
            backoff_rate=retry.backoff,
            max_delay=None if retry.max_delay_s is None else Duration.seconds(retry.max_delay_s),
            max_attempts=retry.attempts,
            jitter_strategy=sfn.JitterType.FULL,
        )


def lambda_task(
    scope: Construct,
    construct_id: str,
    fn: lambda_.IFunction,
    *,
    payload: dict[str, Any] | None = None,
    wait_for_token: bool = False,
    retries: Sequence[Retry] = (),
    lambda_retry: Retry | None = None,
    **options: Any,
) -> tasks.LambdaInvoke:
    """The one way this stack invokes a Lambda from a state machine: the function's answer only, or (with
    wait_for_token) the token in the payload and the task held until it comes back. Retried by the task's
    own `retries`, then by `lambda_retry` (lambda_failures() unless given), not CDK's jitter-less retry."""
    if wait_for_token:
        assert payload is not None, "a task token travels in the payload"
        options["integration_pattern"] = sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN
        payload = {**payload, "token": sfn.JsonPath.task_token}
    else:
        options["payload_response_only"] = True
    task = tasks.LambdaInvoke(
        scope,
        construct_id,
        lambda_function=fn,
        payload=None if payload is None else sfn.TaskInput.from_object(payload),
        retry_on_service_exceptions=False,
        **options,
    )
    add_retries(task, [*retries, lambda_retry or lambda_failures()])
    return task


@dataclass(frozen=True)
class FunctionSpec:
    """What tells one swapflow Lambda from another; python_function supplies everything else."""

    handler: str  # module.function under swapflow.handlers
    description: str
    memory_mb: int = 1024  # what most of them need: images held in memory
    timeout_s: int = 30
    with_engine: bool = False  # ships the engine bundle (numpy, opencv, the models)


def python_function(
    scope: Construct, construct_id: str, spec: FunctionSpec, environment: dict[str, str]
) -> lambda_.Function:
    """A Python Lambda on the stack's runtime: arm64, traced, logs kept a month, the shared settings."""
    log_group = logs.LogGroup(
        scope,
        f"{construct_id}Logs",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.DESTROY,
    )
    fn = lambda_.Function(
        scope,
        construct_id,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,  # arm64: ~20% less per GB-s than x86_64, every wheel exists (docs/cost.md)
        handler=f"swapflow.handlers.{spec.handler}",
        code=function_code(with_engine=spec.with_engine),
        memory_size=spec.memory_mb,
        timeout=Duration.seconds(spec.timeout_s),
        tracing=lambda_.Tracing.ACTIVE,
        log_group=log_group,
        description=spec.description,
        environment={
            "POWERTOOLS_SERVICE_NAME": "swapflow",
            "POWERTOOLS_METRICS_NAMESPACE": "Swapflow",
            "LOG_LEVEL": "INFO",
            **environment,
        },
    )
    acknowledge_star(fn, XRAY_ONLY)
    return fn


def standard_state_machine(
    scope: Construct,
    construct_id: str,
    definition: sfn.IChainable,
    *,
    timeout: Duration | None = None,
) -> sfn.StateMachine:
    """The one way this stack builds a state machine: Standard, traced, every event logged for a month,
    never the execution data (payloads carry output URLs and client metadata)."""
    machine = sfn.StateMachine(
        scope,
        construct_id,
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        state_machine_type=sfn.StateMachineType.STANDARD,
        timeout=timeout,
        tracing_enabled=True,
        logs=sfn.LogOptions(
            destination=logs.LogGroup(
                scope,
                f"{construct_id}Logs",
                retention=logs.RetentionDays.ONE_MONTH,
                removal_policy=RemovalPolicy.DESTROY,
            ),
            level=sfn.LogLevel.ALL,
            include_execution_data=False,
        ),
    )
    acknowledge_star(
        machine,
        "X-Ray trace writes and the CloudWatch Logs log-delivery calls of execution logging "
        "(logs:*LogDelivery, PutResourcePolicy, Describe*) accept no resource-level permissions.",
    )
    return machine
