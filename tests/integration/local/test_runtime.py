"""The local Lambda runtime keeps Lambda's execution model (DESIGN 6), shown on small functions
(``runtime_handlers``) created in the embedded AWS and invoked through its Lambda API, as the stack does.

No timed asserts: what runs at once is read from the order of the handlers' records, and waits poll.
"""

from __future__ import annotations

import io
import json
import os
import threading
import uuid
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local.deployer import Deployment
from infra.local.patches import lambda_runtime
from infra.local.runtime import FunctionSpec, LambdaRuntime
from infra.local.runtime.environments import caller_waits_while
from tests.integration.local import records
from tests.integration.local.helpers import embedded_aws, wait_for

HANDLERS = "tests.integration.local.runtime_handlers"
#: the local cap on environments per function for this module (SWAPFLOW_LOCAL_MAX_ENVIRONMENTS)
CAP = 4


class Functions:
    """Creates functions in the embedded AWS and invokes them through its Lambda API."""

    def __init__(self, aws: Any, records_dir: Path) -> None:
        self.aws = aws
        self.records_dir = records_dir
        self.lam = boto3.client("lambda", region_name="us-east-1")
        self.role = boto3.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("index.py", "")
        self.code = buf.getvalue()

    def create(self, handler: str, *, timeout: int = 30, memory: int = 128, **env: str) -> str:
        name = f"{handler}-{uuid.uuid4().hex[:8]}"
        self.lam.create_function(
            FunctionName=name,
            Role=self.role,
            Runtime="python3.12",
            Handler=f"{HANDLERS}.{handler}",
            Code={"ZipFile": self.code},
            Timeout=timeout,
            MemorySize=memory,
            Environment={"Variables": env},
        )
        return name

    def invoke(self, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """(the payload, FunctionError or None) of a RequestResponse invocation."""
        resp = self.lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
        return json.loads(resp["Payload"].read()), resp.get("FunctionError")

    def invoke_all(self, name: str, events: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str | None]]:
        with ThreadPoolExecutor(len(events)) as pool:
            return list(pool.map(lambda event: self.invoke(name, event), events))

    def open_gate(self, gate: str) -> None:
        (self.records_dir / f"open-{gate}").touch()


@pytest.fixture(scope="module")
def fns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Functions]:
    records_dir = tmp_path_factory.mktemp("records")
    # async retries wait 1 and 2 minutes in AWS: 0.6 s and 1.2 s here
    with embedded_aws(records_dir, time_scale=0.01, SWAPFLOW_LOCAL_MAX_ENVIRONMENTS=str(CAP)) as aws:
        yield Functions(aws, records_dir)


def _overlap(log: list[dict[str, Any]]) -> int:
    """The most invocations running at once, from start/end records in the order they were appended."""
    running = peak = 0
    for entry in log:
        running += 1 if entry["phase"] == "start" else -1
        peak = max(peak, running)
    return peak


# ------------------------------------------------------------------------------ isolation


def test_GIVEN_16_concurrent_invocations_WHEN_each_keeps_its_event_in_module_state_THEN_none_sees_another(
    fns: Functions,
) -> None:
    name = fns.create("remember")
    events = [{"id": f"e{i}-{uuid.uuid4().hex[:6]}", "sleep": 0.2} for i in range(16)]

    answers = fns.invoke_all(name, events)

    assert [error for _, error in answers] == [None] * 16
    assert [answer["stored"] for answer, _ in answers] == events  # module state never mixed
    log = [r for r in records.read("remember") if r["id"] in {e["id"] for e in events}]
    for pid in {r["pid"] for r in log}:  # each environment ran one invocation at a time
        phases = [r["phase"] for r in log if r["pid"] == pid]
        assert phases == ["start", "end"] * (len(phases) // 2), (pid, phases)
    assert 1 <= len({r["pid"] for r in log}) <= CAP
    assert os.getpid() not in {r["pid"] for r in log}


def test_GIVEN_sequential_invocations_WHEN_run_THEN_the_first_is_cold_and_the_rest_reuse_its_environment(
    fns: Functions,
) -> None:
    name = fns.create("whoami")
    spec = lambda_runtime.function_spec(_moto_function(name))

    first = fns.aws.runtime.invoke(spec, {})
    rest = [fns.aws.runtime.invoke(spec, {}) for _ in range(3)]
    via_api = [fns.invoke(name, {})[0]["pid"] for _ in range(2)]

    assert first.cold and first.init_ms is not None and not first.errored
    assert [r.cold for r in rest] == [False] * 3
    assert {r.pid for r in rest} == {first.pid} == set(via_api)
    assert fns.aws.runtime.stats()[name]["started"] == 1


@pytest.mark.parametrize("reserved", [None, 2])
def test_GIVEN_all_environments_busy_WHEN_more_invocations_come_THEN_new_ones_start_up_to_the_cap_and_the_rest_wait(
    fns: Functions, reserved: int | None
) -> None:
    name = fns.create("gate")
    if reserved:
        fns.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    cap = reserved or CAP
    gate = uuid.uuid4().hex[:8]
    results: list[Any] = []
    caller = threading.Thread(target=lambda: results.extend(fns.invoke_all(name, [{"gate": gate}] * (cap + 3))))
    caller.start()
    try:
        started = wait_for(lambda: len(records.read(f"gate-{gate}")) >= cap and records.read(f"gate-{gate}"), 60)
        # all `cap` environments are busy: the others wait (nothing starts while the gate is shut)
        threading.Event().wait(0.5)
        assert len(records.read(f"gate-{gate}")) == cap == len({r["pid"] for r in started})
        assert fns.aws.runtime.stats()[name]["busy"] == cap
    finally:
        fns.open_gate(gate)
        caller.join(120)
    assert len(results) == cap + 3 and all(error is None for _, error in results)
    assert len({answer["pid"] for answer, _ in results}) == cap
    assert fns.aws.runtime.stats()[name]["started"] == cap


def test_GIVEN_a_queued_invocation_WHEN_its_caller_stops_waiting_THEN_it_is_dropped_unstarted(
    fns: Functions,
) -> None:
    name = fns.create("gate")
    fns.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    spec = lambda_runtime.function_spec(_moto_function(name))
    held, queued = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
    first = threading.Thread(target=fns.aws.runtime.invoke, args=(spec, {"gate": held}))
    first.start()
    wait_for(lambda: records.read(f"gate-{held}"), 60)
    waiting = threading.Event()
    waiting.set()
    answers: list[Any] = []

    def caller() -> None:
        with caller_waits_while(waiting.is_set):
            answers.append(fns.aws.runtime.invoke(spec, {"gate": queued}))

    second = threading.Thread(target=caller)
    second.start()
    try:
        threading.Event().wait(0.5)
        assert not answers  # queued behind the held environment
        waiting.clear()  # the caller gives up (a Step Functions task past its timeout)
        second.join(30)
        assert len(answers) == 1 and answers[0].errored
        assert json.loads(answers[0].payload)["errorType"] == "TooManyRequestsException"
    finally:
        fns.open_gate(held)
        fns.open_gate(queued)
        first.join(60)
    assert records.read(f"gate-{queued}") == []  # it never ran
    assert fns.aws.runtime.invoke(spec, {"gate": queued}).errored is False  # the environment is free again


def test_GIVEN_a_wait_for_token_task_queued_for_a_busy_function_WHEN_it_times_out_THEN_its_invocation_never_runs(
    fns: Functions,
) -> None:
    name = fns.create("gate")
    fns.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    held, queued = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
    first = threading.Thread(target=fns.invoke, args=(name, {"gate": held}))
    first.start()
    wait_for(lambda: records.read(f"gate-{held}"), 60)
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = {
        "StartAt": "Run",
        "States": {
            "Run": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": name, "Payload": {"gate": queued, "token.$": "$$.Task.Token"}},
                "TimeoutSeconds": 1,
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name=f"m-{queued}", definition=json.dumps(definition), roleArn=fns.role, type="STANDARD"
    )["stateMachineArn"]
    try:
        execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        ended = wait_for(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d, 60)
        assert ended["status"] == "FAILED"
        assert ended.get("error") == "States.Timeout"
        threading.Event().wait(1.0)  # a queued invocation would have been dropped by now
    finally:
        fns.open_gate(held)
        first.join(60)
    threading.Event().wait(1.0)  # ... or, were it still queued, would run now that the environment is free
    assert records.read(f"gate-{queued}") == []


# ------------------------------------------------------------------------------ limits and crashes


def test_GIVEN_a_handler_sleeping_past_its_timeout_WHEN_invoked_THEN_sandbox_timedout_and_a_fresh_environment_next(
    fns: Functions,
) -> None:
    name = fns.create("whoami", timeout=1)
    warm, _ = fns.invoke(name, {})

    error, function_error = fns.invoke(name, {"sleep": 30})
    after, after_error = fns.invoke(name, {})

    assert function_error == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert after_error is None and after["pid"] != warm["pid"]  # the timed-out environment was discarded


def test_GIVEN_a_128_MB_function_WHEN_it_allocates_300_MB_THEN_out_of_memory_and_the_stack_lives_on(
    fns: Functions,
) -> None:
    name = fns.create("allocate", memory=128, timeout=60)
    small, small_error = fns.invoke(name, {"mb": 16})

    error, function_error = fns.invoke(name, {"mb": 300, "hold": 30})
    again, again_error = fns.invoke(name, {"mb": 16})

    assert small_error is None and small["allocated_mb"] == 16
    assert function_error == "Unhandled" and error["errorType"] == "Runtime.OutOfMemory"
    assert again_error is None and again["pid"] != small["pid"]
    assert boto3.client("lambda").get_function(FunctionName=name)["Configuration"]["MemorySize"] == 128


@pytest.mark.parametrize(("how", "detail"), [("exit", "exit status 3"), ("segfault", "signal: segv")])
def test_GIVEN_a_crashing_handler_WHEN_invoked_THEN_only_that_invocation_fails_and_its_environment_is_replaced(
    fns: Functions, how: str, detail: str
) -> None:
    crashing = fns.create("crash")
    neighbour = fns.create("remember")
    marker = {"id": f"n-{uuid.uuid4().hex[:6]}", "sleep": 1.0}
    beside: list[Any] = []
    other = threading.Thread(target=lambda: beside.append(fns.invoke(neighbour, marker)))
    other.start()

    error, function_error = fns.invoke(crashing, {"how": how})
    other.join(60)
    pids_before = set(fns.aws.runtime.stats()[crashing]["pids"])
    error_again, _ = fns.invoke(crashing, {"how": how})

    assert function_error == "Unhandled" and error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith(detail)
    assert beside == [({"stored": marker, "pid": beside[0][0]["pid"]}, None)]  # the invocation beside it
    assert pids_before == set()  # the crashed environment is gone; the next invocation got a new one
    assert error_again["errorType"] == "Runtime.ExitError"
    assert fns.aws.runtime.stats()[crashing]["started"] == 2


def test_GIVEN_two_functions_with_one_handler_WHEN_invoked_THEN_each_sees_the_environment_of_its_template(
    fns: Functions,
) -> None:
    hello = fns.create("whoami", memory=256, GREETING="hello")
    bonjour = fns.create("whoami", memory=512, GREETING="bonjour")

    (a, _), (b, _) = fns.invoke(hello, {}), fns.invoke(bonjour, {})

    assert (a["greeting"], a["function_name"], a["memory"]) == ("hello", hello, 256)
    assert (b["greeting"], b["function_name"], b["memory"]) == ("bonjour", bonjour, 512)
    assert a["handler"] == b["handler"] == f"{HANDLERS}.whoami"
    assert a["pid"] != b["pid"]
    assert "GREETING" not in os.environ


def test_GIVEN_environments_side_by_side_WHEN_started_THEN_native_thread_pools_get_one_thread_unless_the_template_says(
    fns: Functions,
) -> None:
    default = fns.create("whoami")
    sized = fns.create("whoami", OMP_NUM_THREADS="4")

    (a, _), (b, _) = fns.invoke(default, {}), fns.invoke(sized, {})

    assert a["threads"] == {"OMP_NUM_THREADS": "1", "OPENCV_FOR_THREADS_NUM": "1"}
    assert b["threads"] == {"OMP_NUM_THREADS": "4", "OPENCV_FOR_THREADS_NUM": "1"}


def test_GIVEN_an_idle_environment_WHEN_idle_longer_than_the_limit_THEN_it_is_reaped_and_the_next_start_is_cold() -> (
    None
):
    runtime = LambdaRuntime(endpoint="http://127.0.0.1:9", idle_seconds=0.2)
    spec = FunctionSpec(name="idle", handler=f"{HANDLERS}.whoami")
    try:
        first = runtime.invoke(spec, {})
        assert first.cold and not first.errored

        # reaped: out of the pool, and the process is gone, not just forgotten
        wait_for(lambda: runtime.stats()["idle"]["idle"] == 0 and not Path(f"/proc/{first.pid}").exists(), 30)
        second = runtime.invoke(spec, {})

        assert second.cold and second.pid != first.pid
    finally:
        runtime.shutdown()


# ------------------------------------------------------------------------------ async invocations


def test_GIVEN_an_event_invocation_that_keeps_failing_WHEN_retries_are_spent_THEN_it_lands_in_its_on_failure_queue(
    fns: Functions,
) -> None:
    name = fns.create("fail")
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName=f"failed-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    deployment = Deployment(region="us-east-1", account="123456789012", stack_name="T")
    deployment.async_configs[name] = {"max_retries": 2, "on_failure": queue_arn}
    fns.aws.use_deployment(deployment)  # what the deployer keeps of the template's EventInvokeConfig
    event = {"id": uuid.uuid4().hex}

    resp = fns.lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode())
    assert resp["StatusCode"] == 202
    assert lambda_runtime.wait_async_idle(60)

    attempts = [r for r in records.read("fail") if r["id"] == event["id"]]
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    record = json.loads(message["Body"])
    assert len(attempts) == 3 and len({a["request_id"] for a in attempts}) == 1  # one request, retried twice
    assert record["requestContext"] == {
        "requestId": attempts[0]["request_id"],
        "functionArn": f"{fns.lam.get_function(FunctionName=name)['Configuration']['FunctionArn']}:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == event
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == f"attempt failed for {event['id']}"
    assert record["version"] == "1.0" and record["timestamp"].endswith("Z")


# ------------------------------------------------------------------------------ the dispatch lock


def test_GIVEN_many_environments_writing_and_reading_one_table_WHEN_at_once_THEN_no_call_errors(
    fns: Functions,
) -> None:
    ddb = boto3.client("dynamodb")
    table = f"shared-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk")],
        BillingMode="PAY_PER_REQUEST",
    )
    name = fns.create("hammer", timeout=120)

    answers = fns.invoke_all(name, [{"table": table, "writer": w, "rounds": 25} for w in range(CAP)])

    assert [error for _, error in answers] == [None] * CAP, answers
    assert [answer["errors"] for answer, _ in answers] == [[]] * CAP
    assert (
        ddb.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "shared"}})[
            "Count"
        ]
        == 2
    )


def _moto_function(name: str) -> Any:
    from moto.awslambda.utils import get_backend

    return get_backend("123456789012", "us-east-1").get_function(name)
