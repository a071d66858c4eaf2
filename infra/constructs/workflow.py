"""The job workflow: one Run task, passed again until the job has ended, then RecordFailure if it failed.

    Run (Lambda .waitForTaskToken, TimeoutSecondsPath = $.wait) -> end
      the pass: take a provider slot (global limits, jobs/limits.py) and submit; or, on a later pass,
      look at the recorded result / poll the provider. A job that ends in the pass is finished there
      (archive, terminal state, event) and the token comes straight back; otherwise the token waits
      for the completion path (provider webhook, engine), which finishes the job and sends it.
      Retry ProviderSlotBusyError   no slot free: wait in the state machine (backoff), not in a Lambda
      Retry JobFinishFailed et al.  a completion path could not finish the job: the next pass does
      Retry ProviderBusyError       the provider answered 429/5xx
      Retry States.Timeout          no callback within $.wait: the next pass polls (x1.5 up to 30 s)
      Catch States.ALL -> RecordFailure (finisher, failure mode) -> JobFailed

Why one task and not submit -> await -> poll -> choice -> finish: Step Functions bills every state
entered ($0.025 per 1,000), and the old chain entered six on the happy path. Here a job whose
provider calls back enters one state; each poll is one retry. The poll loop is still visible: it is
the Retry on States.Timeout, and the job's deadline (checked in the pass) ends it.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .functions import grant_task_callbacks, python_function, retry_lambda_failures, standard_state_machine

# A job may queue for a provider slot this many passes (at most 10 s apart: about a day).
SLOT_WAIT_ATTEMPTS = 9000
# Polls after the first wait; the job's deadline (15 min by default) ends the loop long before.
POLL_ATTEMPTS = 500


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
        self.run_fn = python_function(
            self,
            "RunJobFn",
            handler="run_job.handler",
            environment={**environment, "SWAPFLOW_ENGINE_FUNCTION": engine_function.function_name},
            memory_size=1024,  # a pass may finish the job: download and archive its outputs
            timeout=Duration.seconds(120),
            description="swapflow: one pass of a job: provider slot, submit or poll, finish",
        )
        engine_function.grant_invoke(self.run_fn)
        grant_task_callbacks(self.run_fn)
        self.finisher_fn = python_function(
            self,
            "FinisherFn",
            handler="finisher.handler",
            environment=environment,
            timeout=Duration.seconds(60),
            description="swapflow: end a job that failed in the workflow, emit its event",
        )
        self.functions = [self.run_fn, self.finisher_fn]
        self.state_machine = standard_state_machine(self, "StateMachine", self._build_definition())

    def _build_definition(self) -> sfn.IChainable:
        unrecorded = sfn.Fail(self, "CouldNotRecordFailure", error="RecordFailureFailed")
        record_failure = tasks.LambdaInvoke(
            self,
            "RecordFailure",
            lambda_function=self.finisher_fn,
            payload_response_only=True,
            retry_on_service_exceptions=False,
            payload=sfn.TaskInput.from_object(
                {
                    "job_id": sfn.JsonPath.string_at("$.job_id"),
                    "mode": "fail",
                    "failure": sfn.JsonPath.object_at("$.failure"),
                }
            ),
        )
        retry_lambda_failures(record_failure, interval_seconds=1, max_attempts=3)
        record_failure.add_catch(unrecorded, errors=["States.ALL"], result_path="$.failure")
        record_failure.next(sfn.Succeed(self, "JobFailed", comment="The job ended failed; its error is on the job."))

        run = tasks.LambdaInvoke(
            self,
            "Run",
            lambda_function=self.run_fn,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {"job_id": sfn.JsonPath.string_at("$.job_id"), "token": sfn.JsonPath.task_token}
            ),
            task_timeout=sfn.Timeout.at("$.wait"),
            retry_on_service_exceptions=False,
            result_path=sfn.JsonPath.DISCARD,
        )
        run.add_retry(
            errors=["ProviderSlotBusyError"],
            interval=Duration.seconds(1),
            backoff_rate=1.5,
            max_delay=Duration.seconds(10),  # a freed slot is taken within seconds
            max_attempts=SLOT_WAIT_ATTEMPTS,
            jitter_strategy=sfn.JitterType.FULL,
        )
        run.add_retry(
            errors=["ProviderBusyError"],
            interval=Duration.seconds(2),
            backoff_rate=2,
            max_attempts=6,
            max_delay=Duration.seconds(60),
            jitter_strategy=sfn.JitterType.FULL,
        )
        run.add_retry(
            errors=["States.Timeout"],
            interval=Duration.seconds(1),
            backoff_rate=1.5,
            max_delay=Duration.seconds(30),
            max_attempts=POLL_ATTEMPTS,
            jitter_strategy=sfn.JitterType.FULL,
        )
        retry_lambda_failures(run, interval_seconds=1, max_attempts=3)
        run.add_catch(record_failure, errors=["States.ALL"], result_path="$.failure")
        return run
