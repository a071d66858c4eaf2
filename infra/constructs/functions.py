"""The one way this stack builds a Python Lambda: runtime, tracing, log retention, shared settings."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ..bundling import ARCHITECTURE, RUNTIME, function_code


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
