"""The batch runner's real state machine (infra/constructs/batches.py) in patched moto: a job holds its
slot until its token comes back, so no more than MaxConcurrency jobs run at once, and a lost slot
does not stop the batch. Locally this is what keeps a provider under its concurrency limit. The stand-in
job function runs in the local Lambda runtime (embedded AWS)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import boto3
import pytest

from tests.integration.local import records
from tests.integration.local.helpers import embedded_aws, wait_execution


def runner_definition(function_arn: str) -> str:
    """The runner's definition as CDK synthesises it, pointed at our stand-in function."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3
    from aws_cdk.assertions import Template

    from infra.constructs.batches import Batches

    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = Stack(app, "Runner")
    Batches(stack, "Batches", environment={}, input_bucket=s3.Bucket(stack, "Inputs"))
    machines = Template.from_stack(stack).find_resources("AWS::StepFunctions::StateMachine")
    (machine,) = [m for k, m in machines.items() if k.startswith("BatchesRunner")]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return "".join(
        p if isinstance(p, str) else "aws" if p == {"Ref": "AWS::Partition"} else function_arn for p in parts
    )


@pytest.fixture(scope="module")
def runner_arn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with embedded_aws(tmp_path_factory.mktemp("records"), time_scale=0.05):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("index.py", "")
        role = boto3.client("iam").create_role(RoleName="run-job", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        fn = boto3.client("lambda").create_function(
            FunctionName="run-job",
            Role=role,
            Runtime="python3.12",
            Handler="tests.integration.local.batch_runner_handlers.run_job",
            Code={"ZipFile": buf.getvalue()},
            Timeout=30,
        )
        sfn = boto3.client("stepfunctions")
        yield sfn.create_state_machine(
            name="runner", definition=runner_definition(fn["FunctionArn"]), roleArn="arn:aws:iam::123456789012:role/r"
        )["stateMachineArn"]


def test_GIVEN_twelve_jobs_and_a_limit_of_three_WHEN_the_runner_runs_THEN_never_more_than_three_at_once(
    runner_arn: str,
) -> None:
    jobs = [f"job-{i}" for i in range(12)] + ["boom"]
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=runner_arn,
        name="batch-1",
        input=json.dumps({"batch_id": "b1", "jobs": jobs, "max_concurrency": 3}),
    )["executionArn"]

    result = wait_execution(sfn, arn, timeout=60)

    assert result["status"] == "SUCCEEDED"  # the slot that failed ("boom") did not stop the batch
    log = records.read("jobs")
    assert sorted(r["job_id"] for r in log if r["phase"] == "start") == sorted(jobs[:-1])
    running = peak = 0
    for entry in log:  # in the order the environments appended them
        running += 1 if entry["phase"] == "start" else -1
        peak = max(peak, running)
    assert peak == 3
