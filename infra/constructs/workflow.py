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

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .functions import (
    FunctionSpec,
    Retry,
    grant_task_callbacks,
    lambda_failures,
    lambda_task,
    python_function,
    standard_state_machine,
)

# A job may queue for a provider slot this many passes (at most 10 s apart: about a day).
SLOT_WAIT_ATTEMPTS = 9000
# Polls after the first wait; the job's deadline (15 min by default) ends the loop long before.
POLL_ATTEMPTS = 500
# The Run task's own Retry rows, in order, before Lambda's failures.
RUN_RETRIES = [
    # no slot free: wait in the state machine, not in a Lambda; a freed slot is taken within seconds
    Retry(["ProviderSlotBusyError"], interval_s=1, backoff=1.5, max_delay_s=10, attempts=SLOT_WAIT_ATTEMPTS),
    Retry(["ProviderBusyError"], interval_s=2, backoff=2, max_delay_s=60, attempts=6),  # the provider's 429/5xx
    # no callback within $.wait: the next pass polls
    Retry(["States.Timeout"], interval_s=1, backoff=1.5, max_delay_s=30, attempts=POLL_ATTEMPTS),
]
# a pass may finish the job: download and archive its outputs
RUN_JOB = FunctionSpec(
    "run_job.handler",
    "swapflow: one pass of a job: provider slot, submit or poll, finish",
    timeout_s=120,
)
FINISHER = FunctionSpec(
    "finisher.handler", "swapflow: end a job that failed in the workflow, emit its event", memory_mb=512, timeout_s=60
)


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
        engine_env = {**environment, "SWAPFLOW_ENGINE_FUNCTION": engine_function.function_name}
        self.run_fn = python_function(self, "RunJobFn", RUN_JOB, engine_env)
        engine_function.grant_invoke(self.run_fn)
        grant_task_callbacks(self.run_fn)
        self.finisher_fn = python_function(self, "FinisherFn", FINISHER, environment)
        self.functions = [self.run_fn, self.finisher_fn]
        self.state_machine = standard_state_machine(self, "StateMachine", self._build_definition())

    def _build_definition(self) -> sfn.IChainable:
        unrecorded = sfn.Fail(self, "CouldNotRecordFailure", error="RecordFailureFailed")
        record_failure = lambda_task(
            self,
            "RecordFailure",
            self.finisher_fn,
            payload={
                "job_id": sfn.JsonPath.string_at("$.job_id"),
                "mode": "fail",
                "failure": sfn.JsonPath.object_at("$.failure"),
            },
            lambda_retry=lambda_failures(interval_s=1, attempts=3),
        )
        record_failure.add_catch(unrecorded, errors=["States.ALL"], result_path="$.failure")
        record_failure.next(sfn.Succeed(self, "JobFailed", comment="The job ended failed; its error is on the job."))

        run = lambda_task(
            self,
            "Run",
            self.run_fn,
            payload={"job_id": sfn.JsonPath.string_at("$.job_id")},
            wait_for_token=True,
            retries=RUN_RETRIES,
            lambda_retry=lambda_failures(interval_s=1, attempts=3),
            task_timeout=sfn.Timeout.at("$.wait"),
            result_path=sfn.JsonPath.DISCARD,
        )
        run.add_catch(record_failure, errors=["States.ALL"], result_path="$.failure")
        return run
