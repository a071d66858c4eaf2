"""The engine runs as its own Lambda, invoked asynchronously by the `engine` provider."""

from __future__ import annotations

from typing import Any


def engine_function(tj: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, v)
        for k, v in tj["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function" and v["Properties"].get("Handler", "").endswith("engine_worker.handler")
    ]
    return found


def test_given_the_engine_lambda_then_it_has_room_to_swap(synthesized) -> None:
    _, tj = synthesized
    _, fn = engine_function(tj)
    props = fn["Properties"]
    assert props["MemorySize"] >= 2048
    assert props["Timeout"] >= 60
    assert props["Runtime"] == "python3.13" and props["Architectures"] == ["arm64"]


def test_given_the_submit_step_then_it_may_invoke_only_the_engine_function(synthesized) -> None:
    _, tj = synthesized
    logical_id, _ = engine_function(tj)
    invokes = []
    for policy in (v for v in tj["Resources"].values() if v["Type"] == "AWS::IAM::Policy"):
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "lambda:InvokeFunction" in actions:
                invokes.append((policy["Properties"]["Roles"], statement["Resource"]))
    submit = [res for roles, res in invokes if any(r["Ref"].startswith("WorkflowRunJobFn") for r in roles)]
    assert submit, "the submit step cannot invoke the engine"
    for resources in submit:
        for resource in resources if isinstance(resources, list) else [resources]:
            text = str(resource)
            assert logical_id in text


def test_given_the_engine_lambda_then_it_can_finish_jobs_but_not_start_them(synthesized) -> None:
    _, tj = synthesized
    _, fn = engine_function(tj)
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    actions: set[str] = set()
    for policy in (v for v in tj["Resources"].values() if v["Type"] == "AWS::IAM::Policy"):
        if any(r["Ref"] == role for r in policy["Properties"]["Roles"]):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                acts = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                actions.update(acts)
    assert "states:SendTaskSuccess" in actions
    assert "events:PutEvents" in actions  # it finishes the job it swapped: archive, terminal event
    assert "states:StartExecution" not in actions and "lambda:InvokeFunction" not in actions
