"""Canaries for infra.local.moto_patches: fail when a moto upgrade changes what the patches assume.

Three layers:
* the moto version is the one the patches were written for;
* the source of every patched (or relied-upon) moto function still hashes to the recorded value;
* behaviour: with the patch the local stack does what AWS does, and with moto's own code
  (``moto_patches.suspended``) the bug the patch works around is still there. When one of those
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

from infra.local import moto_patches
from tests.integration.local import records
from tests.integration.local.helpers import wait_execution, wait_for

# (module[:class], attribute) -> sha256 of the original source, recorded on moto 5.2.5.
RECORDED_SOURCES: dict[tuple[str, str], str] = {
    (
        "moto.stepfunctions.parser.backend.execution_worker:ExecutionWorker",
        "_get_evaluation_entrypoint",
    ): "2b25949ae855da8035b347b28ac72f90d7d6542bf26ef7e1f03a50ce6a981fde",
    (
        "moto.core.botocore_stubber:BotocoreStubber",
        "process_request",
    ): "f79a1a778c7e755f0c7f234cdab9e36312ed2b16d7051baf06b04872f79dd5b2",
    (
        "moto.moto_server.werkzeug_app:DomainDispatcherApplication",
        "__call__",
    ): "7b12179deceda48da3436e5e5d98f2c368344f1907c849f70b08da1ff367bef6",
    (
        "moto.awslambda.models:LambdaFunction",
        "_invoke_lambda",
    ): "23ce7a8f956e8090eaf8a3a4de498cf938c79db073ab0284b988f1aed8719f5f",
    (
        "moto.awslambda.models:LambdaFunction",
        "invoke",
    ): "dadc324f30aed38bf9dde5a93000c195ed3e5fb5e984f71ebd4c6629fc89aa2e",
    (
        "moto.awslambda.responses:LambdaResponse",
        "invoke",
    ): "8f68f0bf023a3eb476e13ab0f688e6fbde8462c194532e8ce67421dbeb91c44b",
    (
        "moto.s3.notifications",
        "_invoke_awslambda",
    ): "3e321d949008d14e252d81e9e43fbb1ae0a76db6da39cfcd4cd2d4300f3dcb3b",
    (
        "moto.s3.notifications",
        "_get_s3_event",
    ): "e3f2ed740c7b2971d1a9eaadd72062ac371ba6b116b49efcb29634e05803a17c",
    (
        "moto.stepfunctions.parser.models:StepFunctionsParserBackend",
        "start_execution",
    ): "0f8d9dd57baf0c2803dda23c5250b1c787a4a1a3d05239cafbddff1ef905be3a",
    (
        "moto.stepfunctions.parser.backend.execution:Execution",
        "stop",
    ): "16663c65db9a2f964cf64a120175dffa68489dc6c8a664b4e6e47700938ee2e0",
    (
        "moto.stepfunctions.parser.asl.eval.environment:Environment",
        "set_error",
    ): "6447409d405612c0e642e5e7d1942f8b48298485b7cb23630a18c78392f633d2",
    (
        "moto.stepfunctions.parser.asl.eval.environment:Environment",
        "set_timed_out",
    ): "853b04bf9e6a7db4687e0d88655c994a25930544fcf35f8245d0130c217dd5fb",
    (
        "moto.stepfunctions.parser.asl.eval.environment:Environment",
        "set_stop",
    ): "163c10d46b1cb9b5acc34268858aafc6772a2401d1f56edcfbd832d51b3f3aa1",
    (
        "moto.stepfunctions.parser.backend.execution:BaseExecutionWorkerCommunication",
        "_reflect_execution_status",
    ): "038a396107afe59b6db55d26f755d9b8358762e53f7fa67c1a78fd09fdd5218a",
    (
        "moto.events.models:Rule",
        "send_to_targets",
    ): "472e002e2dab8a599554a7d6c7ea0910625a5b39c7699b9ca4404255efcfc172",
    (
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback:StateTaskServiceCallback",
        "_eval_execution",
    ): "81a8da94bfdb59ff86e77e39aa16ccec4d2ad3654e26bfe5d06e65b5e0769242",
    (
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback:StateTaskServiceCallback",
        "_eval_body",
    ): "1565ede7010df6af128057e199741623fe7d813996476dea3b2f9d647a1d9ab4",
    (
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback:StateTaskServiceCallback",
        "_eval_integration_pattern",
    ): "3b97ada1d4cb7280415bb9d160896565d4a520e56b5b85a0f42e42e6538c0ce9",
    (
        "moto.stepfunctions.parser.models:StepFunctionsParserBackend",
        "send_task_success",
    ): "2e95c66f0d676001a8c7b2e9b5b43972c0419af46a28f49842c81f0405bfc402",
    (
        "moto.stepfunctions.parser.models:StepFunctionsParserBackend",
        "send_task_failure",
    ): "2d5a9597cf1d92f9cb4bc47b3b6ae48a0fe5d3c72e20b3cc57afdeabfcddd5ca",
    (
        "moto.stepfunctions.parser.models:StepFunctionsParserBackend",
        "send_task_heartbeat",
    ): "279ad79cd7a2f24b6971a61a7924c092b4684bfa25fdb4b36ad922140c2917de",
    (
        "moto.stepfunctions.responses:StepFunctionResponse",
        "send_task_failure",
    ): "f0fed5e805768377c3886da87839f8dc3ea37bdaa5a64bab13da2784b5e00304",
    (
        "moto.stepfunctions.parser.asl.eval.callback.callback:CallbackEndpoint",
        "interrupt_all",
    ): "d5b1c5de4a0b4fe9a1edd940a6ca4f453d8b56fb0e4619b559ead47c651e5029",
    (
        "moto.stepfunctions.parser.asl.component.common.timeouts.timeout:Timeout",
        "_eval_body",
    ): "5c5f336e8ba14d64e058d2c73f680c1f946ba37ccc93b58867f8f8196512afe1",
    (
        "moto.stepfunctions.parser.asl.component.common.timeouts.heartbeat:Heartbeat",
        "_eval_body",
    ): "5c5f336e8ba14d64e058d2c73f680c1f946ba37ccc93b58867f8f8196512afe1",
    (
        "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function:WaitFunction",
        "_wait_interval",
    ): "8f954dee80372b4b8233918f4d94810949f402cb3ddd2361ef4cbd9719d02253",
    (
        "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl:RetrierDecl",
        "_eval_body",
    ): "48463fff19cefa98cfb054311706ba47abfe813da0e65ce1a6376a9101f35f09",
}


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
    assert moto.__version__ == moto_patches.MOTO_VERSION == "5.2.5"


@pytest.mark.parametrize(("target", "attr"), sorted(RECORDED_SOURCES))
def test_GIVEN_patched_moto_function_WHEN_source_hashed_THEN_it_is_unchanged(target: str, attr: str) -> None:
    moto_patches.apply(time_scale=moto_patches.time_scale())
    assert moto_patches.source_sha256(_owner(target), attr) == RECORDED_SOURCES[(target, attr)], (
        f"moto changed {target}.{attr}: re-check the patch in infra/local/moto_patches.py, then re-record"
    )


def test_GIVEN_apply_WHEN_called_again_THEN_idempotent_and_time_scale_changes() -> None:
    from moto.awslambda.models import LambdaFunction

    moto_patches.apply(time_scale=0.5)
    first = LambdaFunction.__dict__["_invoke_lambda"]
    moto_patches.apply(time_scale=0.05)
    assert LambdaFunction.__dict__["_invoke_lambda"] is first
    assert moto_patches.time_scale() == 0.05
    assert moto_patches.applied() >= {"P0", "P1", "P1b", "P2", "P3", "P4", "P5", "P6", "P7", "T1"}


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
    with moto_patches.suspended("P0"):
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
    with moto_patches.suspended("P1"), pytest.raises(Exception):  # noqa: B017
        # moto's own code wants Docker (and for image functions fails before even trying)
        unpatched = lam.invoke(FunctionName=name, Payload=b"{}")
        assert b'"image"' in unpatched["Payload"].read()


def test_GIVEN_P2_WHEN_started_without_name_THEN_uuid_but_moto_alone_uses_none(local_sample: Any) -> None:
    sfn = local_sample.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=local_sample.outputs["MachineArn"], input='{"job_id": "p2"}')[
        "executionArn"
    ]
    uuid.UUID(arn.rsplit(":", 1)[1])
    with moto_patches.suspended("P2"):
        unpatched = sfn.start_execution(stateMachineArn=local_sample.outputs["MachineArn"], input='{"job_id": "p2b"}')
    assert unpatched["executionArn"].endswith(":None")
    wait_execution(sfn, arn)
    wait_execution(sfn, unpatched["executionArn"])


def test_GIVEN_P3_WHEN_stopped_during_token_wait_THEN_aborted_but_moto_alone_ends_failed(
    local_sample: Any,
) -> None:
    sfn = local_sample.client("stepfunctions")
    job_id = f"p3-{uuid.uuid4().hex[:6]}"
    with moto_patches.suspended("P3"):
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

    with moto_patches.suspended("P4"):
        with pytest.raises(NotImplementedError):  # moto: "Expr not defined" for Lambda targets
            put("p4-unpatched")
        moto_patches.wait_async_idle(2)
    assert not delivered("p4-unpatched")
    put("p4-patched")
    wait_for(lambda: delivered("p4-patched"))


def test_GIVEN_P5_WHEN_token_task_retried_THEN_fresh_token_but_moto_alone_reuses_it(
    local_sample: Any,
) -> None:
    sfn = local_sample.client("stepfunctions")
    job_id = f"p5-{uuid.uuid4().hex[:6]}"
    with moto_patches.suspended("P5", "P6"):
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
    with moto_patches.suspended("P6"), pytest.raises(ClientError) as err:
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
    with moto_patches.suspended("P6"):
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
