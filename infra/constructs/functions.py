"""The one way this stack builds a Python Lambda: runtime, tracing, log retention, shared settings."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
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


def retry_lambda_failures(task: sfn.TaskStateBase, *, interval_seconds: int = 2, max_attempts: int = 4) -> None:
    """Retry a Lambda task when Lambda itself fails or the function raises (States.TaskFailed)."""
    task.add_retry(
        errors=[*LAMBDA_SERVICE_ERRORS, "States.TaskFailed"],
        interval=Duration.seconds(interval_seconds),
        backoff_rate=2,
        max_attempts=max_attempts,
        jitter_strategy=sfn.JitterType.FULL,
    )


def python_function(
    scope: Construct,
    construct_id: str,
    *,
    handler: str,
    environment: dict[str, str],
    memory_size: int = 512,
    timeout: Duration | None = None,
    code: lambda_.Code | None = None,
    description: str = "",
) -> lambda_.Function:
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
        handler=f"swapflow.handlers.{handler}",
        code=code or function_code(),
        memory_size=memory_size,
        timeout=timeout or Duration.seconds(30),
        tracing=lambda_.Tracing.ACTIVE,
        log_group=log_group,
        description=description,
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
