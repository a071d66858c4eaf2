"""The batch runner: one Standard execution per batch (name = batch id) running its jobs as a Distributed Map.

    RunJobs (Distributed Map over $.jobs, MaxConcurrencyPath = $.max_concurrency, child executions)
      RunJob (Lambda .waitForTaskToken, Catch -> SlotLost: create and start the job; the token comes
              back when it ends, so the map slot is held for the job's life)

Why a Distributed Map and not SQS + a Lambda event source mapping with MaximumConcurrency: a
provider's limit is on tasks *running* at once (WaveSpeed's lowest tier: 2 concurrent, 2 a minute),
and a job runs for seconds to minutes in its own workflow. An ESM's MaximumConcurrency bounds how
many dispatcher Lambdas run at once, not how many jobs, and cannot go below 2; holding a Lambda open
for a job's whole life would pay for idle compute. Here a Map slot is held until the job ends (task
token, sent by the finisher path), so MaxConcurrency *is* the provider concurrency. The provider's
rate (tasks a minute) and its concurrency across batches and single jobs are the job workflow's
provider leases (jobs/limits.py), which also make a batch job wait for its turn in the state machine. A
Distributed Map runs each item as a child execution, so a 1,000-job batch stays far from the 25,000
history events of one execution and shows each job's slot on its own. The limits are settings
(SWAPFLOW_PROVIDER_CONCURRENCY, SWAPFLOW_PROVIDER_RATE_PER_MINUTE) read when the batch is accepted.
It also runs locally: moto executes Distributed Map with MaxConcurrencyPath and Lambda task tokens
as it is, while it delivers SQS to Lambda synchronously inside SendMessage with no
MaximumConcurrency at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ..nag import acknowledge_wildcard, executions_of
from .functions import FunctionSpec, lambda_task, python_function, standard_state_machine

# Where the manifest runner's Distributed Map writes its results (ResultWriter) in the input bucket.
MAP_RESULTS_PREFIX = "outbox/.map-results/"
# The longest a job may hold its slot: its deadline (15 min by default) plus provider retries, with room.
SLOT_TIMEOUT = Duration.hours(2)
# fetches, checks and stores the job's input images
RUN_BATCH_JOB = FunctionSpec(
    "batch_job.handler",
    "swapflow: create and start one job of a batch (batch runner step)",
    timeout_s=120,
)
# a pass stops after 60 s (jobs/jsonl.py PASS_SECONDS)
REGISTER_MANIFEST = FunctionSpec(
    "register_manifest.handler",
    "swapflow: register the next part of a JSONL manifest's jobs (manifest runner step)",
    timeout_s=180,
)


class PutOnlyResultWriter(sfn.ResultWriterV2):
    """The Map's results in S3, without the s3:AbortMultipartUpload CDK adds: no role but the eraser's
    removes objects or uploads (DESIGN 7); writing the results needs only these."""

    def provide_policy_statements(self) -> list[iam.PolicyStatement]:
        assert self.bucket is not None
        return [
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts"],
                resources=[self.bucket.arn_for_objects("*")],
            )
        ]


class Batches(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, environment: dict[str, str], input_bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        self.run_job_fn = python_function(self, "RunBatchJobFn", RUN_BATCH_JOB, environment)
        self.register_fn = python_function(self, "RegisterManifestFn", REGISTER_MANIFEST, environment)
        self.state_machine = standard_state_machine(self, "Runner", self._build_definition())
        self.manifest_state_machine = standard_state_machine(
            self, "ManifestRunner", self._build_manifest_definition(input_bucket)
        )
        self._acknowledge_child_executions()
        stack = Stack.of(self)
        bucket_id = stack.resolve(stack.get_logical_id(input_bucket.node.default_child))  # type: ignore[arg-type]
        acknowledge_wildcard(
            self.manifest_state_machine,
            f"arn:<AWS::Partition>:s3:::<{bucket_id}>/*",
            "The manifest runner's Distributed Map reads the manifest (its key is data) and writes its "
            "results (ItemReader/ResultWriter) in the input bucket: objects only a wildcard can name.",
        )

    def _acknowledge_child_executions(self) -> None:
        """The Distributed Map starts, describes and stops its own child executions (CDK's policy)."""
        for machine in (self.state_machine, self.manifest_state_machine):
            for suffix in (":*", "/*:*"):
                acknowledge_wildcard(
                    machine,
                    executions_of(machine, suffix),
                    "The batch runner's Distributed Map manages its own child executions (names are generated "
                    "per map run), which only a wildcard below this state machine can name.",
                )

    def _job_map(
        self, scope: Construct, construct_id: str, job: str, at: Callable[[str], object], item: str, **items: Any
    ) -> sfn.DistributedMap:
        """A Distributed Map over `items` (items_path or item_reader) whose every item holds one slot for one
        job: RunJob (.waitForTaskToken) creates and starts it with `job` (its id or its manifest line) taken
        by `at` from the map item `item`; the token comes back when the job ends."""
        run_job = lambda_task(
            scope,
            "RunJob",
            self.run_job_fn,
            payload={"batch_id": sfn.JsonPath.string_at("$.batch_id"), job: at(f"$.{job}")},
            wait_for_token=True,
            task_timeout=sfn.Timeout.duration(SLOT_TIMEOUT),
        )
        # A job whose slot was lost (timeout, Lambda failures) is still bounded by its own deadline and
        # counted by the finisher path; the batch keeps going.
        run_job.add_catch(sfn.Succeed(scope, "SlotLost"), errors=["States.ALL"], result_path="$.failure")
        job_map = sfn.DistributedMap(
            scope,
            construct_id,
            max_concurrency_path="$.max_concurrency",
            item_selector={"batch_id": sfn.JsonPath.string_at("$.batch_id"), job: at(item)},
            map_execution_type=sfn.StateMachineType.STANDARD,
            result_path=sfn.JsonPath.DISCARD,
            **items,
        )
        job_map.item_processor(run_job)
        return job_map

    def _build_definition(self) -> sfn.IChainable:
        run_jobs = self._job_map(
            self, "RunJobs", "job_id", sfn.JsonPath.string_at, "$$.Map.Item.Value", items_path="$.jobs"
        )
        return run_jobs.next(sfn.Succeed(self, "BatchRan"))

    def _build_manifest_definition(self, input_bucket: s3.IBucket) -> sfn.IChainable:
        scope = Construct(self, "Manifests")
        # ResultWriterV2 (the non-deprecated writer) renders only under its feature flag.
        scope.node.set_context("@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2", True)
        register = lambda_task(
            scope,
            "Register",
            self.register_fn,
            comment="Members for the next part of the manifest (ids, queued) in BatchWriteItem chunks",
        )
        run_lines = self._job_map(
            scope,
            "RunLines",
            "index",
            sfn.JsonPath.number_at,
            "$$.Map.Item.Index",
            item_reader=sfn.S3JsonLItemReader(bucket=input_bucket, key=sfn.JsonPath.string_at("$.manifest.key")),
            result_writer_v2=PutOnlyResultWriter(bucket=input_bucket, prefix=MAP_RESULTS_PREFIX),
        )
        registered = (
            sfn.Choice(scope, "Registered")
            .when(sfn.Condition.boolean_equals("$.refused", True), sfn.Succeed(scope, "ManifestRefused"))
            .when(sfn.Condition.boolean_equals("$.done", True), run_lines)
            .otherwise(register)
        )
        run_lines.next(sfn.Succeed(scope, "ManifestRan"))
        return register.next(registered)

    @property
    def functions(self) -> list[lambda_.Function]:
        return [self.run_job_fn, self.register_fn]
