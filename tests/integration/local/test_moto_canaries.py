"""Canaries for infra.local.patches: fail when a moto upgrade changes what the patches assume.

Three layers:
* the moto version is the one the patches were written for;
* the source of every patched (or relied-upon) moto function still hashes to the value its patch
  module records (``RECORDED``, next to the patch);
* behaviour: with the patch the local stack does what AWS does, and with moto's own code
  (``patches.suspended``) the bug the patch works around is still there. When one of those
  "still needed" checks fails after an upgrade, moto fixed it: drop the patch.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
import uuid
from typing import Any

import moto
import pytest
from botocore.exceptions import ClientError

from infra.local import patches
from infra.local.patches import lambda_runtime, time_scaling
from tests.integration.local import records
from tests.integration.local.helpers import wait_execution, wait_for

# (module[:class], attribute) -> (patch id, sha256 of the original source, recorded on moto 5.2.5).
RECORDED_SOURCES = patches.recorded_sources()


def _owner(target: str) -> Any:
    module, _, cls = target.partition(":")
    owner = importlib.import_module(module)
    return getattr(owner, cls) if cls else owner


def _start(local_sample: Any, payload: dict[str, Any]) -> str:
    sfn = local_sample.client("stepfunctions")
    return str(
        sfn.start_execution(
            stateMachineArn=local_sample.outputs["MachineArn"],
            name=uuid.uuid4().hex,
            input=json.dumps(payload),
        )["executionArn"]
    )


def test_GIVEN_installed_moto_WHEN_checked_THEN_it_is_the_version_the_patches_were_written_for() -> None:
    assert moto.__version__ == patches.MOTO_VERSION == "5.2.5"


@pytest.mark.parametrize(("target", "attr"), sorted(RECORDED_SOURCES))
def test_GIVEN_patched_moto_function_WHEN_source_hashed_THEN_it_is_unchanged(target: str, attr: str) -> None:
    patches.apply_all(time_scale=time_scaling.time_scale())
    patch_id, recorded = RECORDED_SOURCES[(target, attr)]
    module = patches.PATCHES[patch_id][0].__name__.replace(".", "/")
    assert patches.source_sha256(_owner(target), attr) == recorded, (
        f"moto changed {target}.{attr}: re-check patch {patch_id} in {module}.py, then re-record"
    )


def test_GIVEN_every_patch_WHEN_listed_THEN_its_module_records_the_moto_sources_it_relies_on() -> None:
    """A patch without records would have no canary: a moto upgrade could change it silently."""
    for patch_id, (module, _) in patches.PATCHES.items():
        assert module.RECORDED, f"{patch_id} ({module.__name__}) records no moto source"
    assert list(patches.PATCHES) == [
        *("P0", "P1", "P1b", "P2", "P3", "P4", "P5", "P6", "P7", "T1", "P8", "P9", "P10", "P11", "P12", "P13"),
    ]


def test_GIVEN_apply_WHEN_called_again_THEN_idempotent_and_time_scale_changes() -> None:
    from moto.awslambda.models import LambdaFunction

    patches.apply_all(time_scale=0.5)
    first = LambdaFunction.__dict__["_invoke_lambda"]
    patches.apply_all(time_scale=0.05)
    assert LambdaFunction.__dict__["_invoke_lambda"] is first
    assert time_scaling.time_scale() == 0.05
    assert patches.applied() >= set(patches.PATCHES)


# ------------------------------------------------------------------------------ behaviour


@pytest.mark.parametrize("path", ["in-process", "endpoint"])
def test_GIVEN_P0_WHEN_a_call_is_inside_a_backend_THEN_the_next_waits_but_moto_alone_lets_it_in(
    local_sample: Any, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """moto's backends have no lock of their own: without P0 two requests are inside one at once (a read
    then iterates an item another request is writing). The first GetItem is held inside the backend."""
    import boto3
    from moto.dynamodb.models import DynamoDBBackend

    entered: list[int] = []
    release = threading.Event()
    get_item = DynamoDBBackend.get_item

    def held_get_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        entered.append(threading.get_ident())
        if len(entered) == 1:
            release.wait(30)
        return get_item(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "get_item", held_get_item)
    endpoint = {"endpoint_url": local_sample.aws.url} if path == "endpoint" else {}
    ddb = boto3.client("dynamodb", region_name="us-east-1", **endpoint)
    key = {"pk": {"S": "p0"}, "sk": {"S": "p0"}}

    def two_calls(expect_both_inside: bool) -> int:
        entered.clear()
        release.clear()
        calls = [
            threading.Thread(target=ddb.get_item, kwargs={"TableName": local_sample.outputs["TableName"], "Key": key})
            for _ in range(2)
        ]
        calls[0].start()
        wait_for(lambda: entered, 30)
        calls[1].start()
        if expect_both_inside:
            wait_for(lambda: len(entered) == 2, 30)
        else:
            calls[1].join(0.5)  # it would be inside by now if nothing held it back
        inside = len(entered)
        release.set()
        for call in calls:
            call.join(30)
        return inside

    assert two_calls(expect_both_inside=False) == 1
    with patches.suspended("P0"):
        assert two_calls(expect_both_inside=True) == 2


def test_GIVEN_P1_WHEN_function_invoked_THEN_it_runs_in_an_environment_but_moto_alone_needs_docker(
    local_sample: Any,
) -> None:
    lam = local_sample.client("lambda")
    name = local_sample.outputs["ImageFnName"]
    patched = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert patched["image"] is True
    assert patched["pid"] in local_sample.aws.runtime.stats()[name]["pids"]  # a worker of the runtime
    assert patched["pid"] != os.getpid()
    with patches.suspended("P1"), pytest.raises(Exception):  # noqa: B017
        # moto's own code wants Docker (and for image functions fails before even trying)
        unpatched = lam.invoke(FunctionName=name, Payload=b"{}")
        assert b'"image"' in unpatched["Payload"].read()


def test_GIVEN_P2_WHEN_started_without_name_THEN_uuid_but_moto_alone_uses_none(local_sample: Any) -> None:
    sfn = local_sample.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=local_sample.outputs["MachineArn"], input='{"job_id": "p2"}')[
        "executionArn"
    ]
    uuid.UUID(arn.rsplit(":", 1)[1])
    with patches.suspended("P2"):
        unpatched = sfn.start_execution(stateMachineArn=local_sample.outputs["MachineArn"], input='{"job_id": "p2b"}')
    assert unpatched["executionArn"].endswith(":None")
    wait_execution(sfn, arn)
    wait_execution(sfn, unpatched["executionArn"])


def test_GIVEN_P3_WHEN_stopped_during_token_wait_THEN_aborted_but_moto_alone_ends_failed(
    local_sample: Any,
) -> None:
    sfn = local_sample.client("stepfunctions")
    job_id = f"p3-{uuid.uuid4().hex[:6]}"
    with patches.suspended("P3"):
        arn = _start(local_sample, {"job_id": job_id, "hold": True})
        wait_for(lambda: records.tokens_for(job_id))
        sfn.stop_execution(executionArn=arn)
        assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
        final = wait_execution(sfn, arn)
    assert final["status"] == "FAILED"  # the token timeout overwrote the stop
    job_id = f"p3-{uuid.uuid4().hex[:6]}"
    arn = _start(local_sample, {"job_id": job_id, "hold": True})
    wait_for(lambda: records.tokens_for(job_id))
    sfn.stop_execution(executionArn=arn)
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    time.sleep(3.5)  # past the (scaled) token timeout of 3 s
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"


def test_GIVEN_P4_WHEN_event_matches_lambda_rule_THEN_delivered_but_moto_alone_cannot(
    local_sample: Any,
) -> None:
    events = local_sample.client("events")

    def put(job_id: str) -> None:
        events.put_events(
            Entries=[
                {
                    "EventBusName": "sample-bus",
                    "Source": "sample.local",
                    "DetailType": "JobDone",
                    "Detail": json.dumps({"job_id": job_id}),
                }
            ]
        )

    def delivered(job_id: str) -> bool:
        return any(e["detail"].get("job_id") == job_id for e in records.read("bus"))

    with patches.suspended("P4"):
        with pytest.raises(NotImplementedError):  # moto: "Expr not defined" for Lambda targets
            put("p4-unpatched")
        lambda_runtime.wait_async_idle(2)
    assert not delivered("p4-unpatched")
    put("p4-patched")
    wait_for(lambda: delivered("p4-patched"))


def test_GIVEN_P5_WHEN_token_task_retried_THEN_fresh_token_but_moto_alone_reuses_it(
    local_sample: Any,
) -> None:
    sfn = local_sample.client("stepfunctions")
    job_id = f"p5-{uuid.uuid4().hex[:6]}"
    with patches.suspended("P5", "P6"):
        wait_execution(sfn, _start(local_sample, {"job_id": job_id, "reject_first": True}))
    tokens = records.tokens_for(job_id)
    assert len(tokens) == 2 and tokens[0]["token"] == tokens[1]["token"]
    job_id = f"p5-{uuid.uuid4().hex[:6]}"
    assert wait_execution(sfn, _start(local_sample, {"job_id": job_id, "reject_first": True}))["status"] == "SUCCEEDED"
    tokens = records.tokens_for(job_id)
    assert len(tokens) == 2 and tokens[0]["token"] != tokens[1]["token"]


def test_GIVEN_P6_WHEN_callback_after_timeout_THEN_task_timed_out_but_moto_alone_accepts_it(
    local_sample: Any,
) -> None:
    sfn = local_sample.client("stepfunctions")
    job_id = f"p6-{uuid.uuid4().hex[:6]}"
    assert wait_execution(sfn, _start(local_sample, {"job_id": job_id, "hold": True}))["error"] == "States.Timeout"
    token = records.tokens_for(job_id)[0]["token"]
    with pytest.raises(ClientError) as err:
        sfn.send_task_success(taskToken=token, output="{}")
    assert err.value.response["Error"]["Code"] == "TaskTimedOut"
    # moto's own code: the execution is no longer running, so it answers InvalidToken (AWS: TaskTimedOut)
    with patches.suspended("P6"), pytest.raises(ClientError) as err:
        sfn.send_task_success(taskToken=token, output="{}")
    assert err.value.response["Error"]["Code"] != "TaskTimedOut"


def test_GIVEN_P6_WHEN_token_already_completed_THEN_second_callback_fails_but_moto_alone_accepts_it(
    local_sample: Any,
) -> None:
    sfn = local_sample.client("stepfunctions")
    job_id = f"p6b-{uuid.uuid4().hex[:6]}"
    arn = _start(local_sample, {"job_id": job_id, "hold": True, "mode": "map", "items": []})
    # an empty Map ends at once; use the main path instead with a held token
    wait_execution(sfn, arn)
    arn = _start(local_sample, {"job_id": job_id, "hold": True})
    token = wait_for(lambda: records.tokens_for(job_id))[0]["token"]
    # the Flaky task follows: keep the execution running long enough with a failing first attempt
    sfn.send_task_success(taskToken=token, output="{}")
    with patches.suspended("P6"):
        sfn.send_task_success(taskToken=token, output="{}")  # moto: silently accepted
    with pytest.raises(ClientError) as err:
        sfn.send_task_success(taskToken=token, output="{}")
    assert err.value.response["Error"]["Code"] == "TaskTimedOut"
    wait_execution(sfn, arn)


def test_GIVEN_T1_WHEN_wait_and_timeouts_scaled_THEN_a_10s_wait_takes_a_twentieth(local_sample: Any) -> None:
    sfn = local_sample.client("stepfunctions")
    started = time.monotonic()
    desc = wait_execution(sfn, _start(local_sample, {"job_id": f"t1-{uuid.uuid4().hex[:6]}"}))
    assert desc["status"] == "SUCCEEDED"
    assert time.monotonic() - started < 10  # the Wait alone is 10 s unscaled
