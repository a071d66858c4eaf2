"""The job workflow: SubmitToProvider -> AwaitResult (task token, timeout = poll interval) -> PollStatus
-> Choice, looping until the job's result is in, then Finish or RecordFailure. Read top to bottom in
`_build_definition`; every task has its Retry and Catch.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .functions import grant_task_callbacks, python_function, standard_state_machine


class Workflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: dict[str, str],
        engine_function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.submit_fn = python_function(
            self,
            "SubmitToProviderFn",
            handler="provider_submit.handler",
            environment={**environment, "SWAPFLOW_ENGINE_FUNCTION": engine_function.function_name},
            timeout=Duration.seconds(60),
            description="swapflow: hand a job to its provider",
        )
        engine_function.grant_invoke(self.submit_fn)
        self.await_fn = python_function(
            self,
            "AwaitResultFn",
            handler="await_result.handler",
            environment=environment,
            description="swapflow: park the wait step's task token",
        )
        grant_task_callbacks(self.await_fn)
        self.status_fn = python_function(
            self,
            "PollStatusFn",
            handler="status.handler",
            environment=environment,
            timeout=Duration.seconds(60),
            description="swapflow: poll the provider for a job's state",
        )
        self.finisher_fn = python_function(
            self,
            "FinisherFn",
            handler="finisher.handler",
            environment=environment,
            memory_size=1024,
            timeout=Duration.seconds(120),
            description="swapflow: archive outputs, end the job, emit its event",
        )
        self.functions = [self.submit_fn, self.await_fn, self.status_fn, self.finisher_fn]
        self.state_machine = standard_state_machine(self, "StateMachine", self._build_definition())

    def _invoke(self, construct_id: str, fn: lambda_.IFunction, **kwargs: object) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(self, construct_id, lambda_function=fn, payload_response_only=True, **kwargs)  # type: ignore[arg-type]
        task.add_retry(
            errors=["Lambda.TooManyRequestsException", "Lambda.ServiceException", "States.TaskFailed"],
            interval=Duration.seconds(1),
            backoff_rate=2,
            max_attempts=3,
            jitter_strategy=sfn.JitterType.FULL,
        )
        return task

    def _build_definition(self) -> sfn.IChainable:
        completed = sfn.Succeed(self, "JobCompleted")
        failed = sfn.Succeed(self, "JobFailed", comment="The job ended failed; its error is on the job record.")
        unrecorded = sfn.Fail(self, "CouldNotRecordFailure", error="RecordFailureFailed")

        record_failure = self._invoke("RecordFailure", self.finisher_fn, retry_on_service_exceptions=False)
        record_failure.add_catch(unrecorded, errors=["States.ALL"], result_path="$.failure")
        mark_failure = sfn.Pass(self, "MarkFailure", result=sfn.Result.from_string("fail"), result_path="$.mode")
        mark_failure.next(record_failure).next(failed)

        finish = self._invoke(
            "Finish",
            self.finisher_fn,
            retry_on_service_exceptions=False,
            payload=sfn.TaskInput.from_object({"job_id": sfn.JsonPath.string_at("$.job_id"), "mode": "complete"}),
        )
        finish.add_catch(mark_failure, errors=["States.ALL"], result_path="$.failure")
        finish.next(completed)

        submit = tasks.LambdaInvoke(
            self,
            "SubmitToProvider",
            lambda_function=self.submit_fn,
            payload_response_only=True,
            payload=sfn.TaskInput.from_object({"job_id": sfn.JsonPath.string_at("$.job_id")}),
        )
        submit.add_retry(
            errors=["ProviderBusyError"],
            interval=Duration.seconds(2),
            backoff_rate=2,
            max_attempts=6,
            max_delay=Duration.seconds(60),
            jitter_strategy=sfn.JitterType.FULL,
        )
        submit.add_retry(
            errors=["Lambda.TooManyRequestsException", "Lambda.ServiceException"],
            interval=Duration.seconds(1),
            backoff_rate=2,
            max_attempts=3,
            jitter_strategy=sfn.JitterType.FULL,
        )
        submit.add_catch(mark_failure, errors=["States.ALL"], result_path="$.failure")

        await_result = tasks.LambdaInvoke(
            self,
            "AwaitResult",
            lambda_function=self.await_fn,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {
                    "job_id": sfn.JsonPath.string_at("$.job_id"),
                    "token": sfn.JsonPath.task_token,
                    "poll": sfn.JsonPath.object_at("$.poll"),
                }
            ),
            task_timeout=sfn.Timeout.at("$.poll.interval"),
        )
        poll_status = self._invoke(
            "PollStatus",
            self.status_fn,
            payload=sfn.TaskInput.from_object(
                {
                    "job_id": sfn.JsonPath.string_at("$.job_id"),
                    "poll": sfn.JsonPath.object_at("$.poll"),
                }
            ),
        )
        poll_status.add_catch(mark_failure, errors=["States.ALL"], result_path="$.failure")
        await_result.add_catch(poll_status, errors=["States.Timeout"], result_path="$.timeout")
        await_result.add_catch(mark_failure, errors=["States.ALL"], result_path="$.failure")

        job_done = (
            sfn.Choice(self, "JobDone")
            .when(sfn.Condition.string_equals("$.state", "running"), await_result)
            .when(sfn.Condition.string_equals("$.state", "succeeded"), finish)
            .when(sfn.Condition.string_equals("$.state", "done"), completed)
            .otherwise(mark_failure)
        )
        await_result.next(job_done)
        poll_status.next(job_done)
        return submit.next(job_done)
