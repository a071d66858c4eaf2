"""Alarms on what means a user's job went wrong: failed executions, Lambda errors, dead letters."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.StateMachine,
        functions: list[lambda_.Function],
        dead_letter_queues: list[sqs.Queue],
    ) -> None:
        super().__init__(scope, construct_id)
        cloudwatch.Alarm(
            self,
            "ExecutionsFailed",
            metric=state_machine.metric_failed(period=Duration.minutes(5)),
            threshold=1,
            evaluation_periods=1,
            alarm_description="A job workflow failed without recording the job's failure",
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for fn in functions:
            cloudwatch.Alarm(
                self,
                f"{fn.node.id}Errors",
                metric=fn.metric_errors(period=Duration.minutes(5)),
                threshold=5,
                evaluation_periods=1,
                alarm_description=f"Errors in {fn.node.id}",
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        for queue in dead_letter_queues:
            cloudwatch.Alarm(
                self,
                f"{queue.node.id}NotEmpty",
                metric=queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
                threshold=1,
                evaluation_periods=1,
                alarm_description="Messages arrived in a dead-letter queue",
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
