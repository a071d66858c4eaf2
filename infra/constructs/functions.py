"""The one way this stack builds a Python Lambda: runtime, tracing, log retention, shared settings."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ..bundling import function_code

RUNTIME = lambda_.Runtime.PYTHON_3_12
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
    return lambda_.Function(
        scope,
        construct_id,
        runtime=RUNTIME,
        architecture=lambda_.Architecture.X86_64,
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


def standard_state_machine(
    scope: Construct,
    construct_id: str,
    definition: sfn.IChainable,
    *,
    timeout: Duration | None = None,
) -> sfn.StateMachine:
    """The one way this stack builds a state machine: Standard, traced, every event logged for a month,
    never the execution data (payloads carry output URLs and client metadata)."""
    return sfn.StateMachine(
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
