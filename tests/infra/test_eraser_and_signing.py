"""Responsible use in the template: one deleting function, its hourly sweep, the signing secret."""

from __future__ import annotations

import json
from typing import Any


def resources(template_json: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template_json["Resources"].items() if v["Type"] == rtype}


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_given_stack_when_synthesised_then_only_the_eraser_may_delete_object_versions(synthesized) -> None:
    _, tj = synthesized
    roles_that_delete = {
        role["Ref"]
        for policy in resources(tj, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        # Explicit version deletes and version listing: only the eraser. (CDK's grant_read_write still adds
        # `s3:DeleteObject*` to other functions; issue 11 narrows those grants.)
        if any(a in ("s3:DeleteObjectVersion", "s3:ListBucketVersions") for a in _actions(statement))
        for role in policy["Properties"]["Roles"]
    }

    assert len(roles_that_delete) == 1
    assert next(iter(roles_that_delete)).startswith("RetentionEraserFn")


def test_given_stack_when_synthesised_then_an_hourly_rule_runs_the_sweep_on_the_eraser(synthesized) -> None:
    _, tj = synthesized
    (rule,) = [r for k, r in resources(tj, "AWS::Events::Rule").items() if k.startswith("RetentionSweep")]

    assert rule["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    (target,) = rule["Properties"]["Targets"]
    assert json.loads(target["Input"]) == {"sweep": True}
    assert target["Arn"]["Fn::GetAtt"][0].startswith("RetentionEraserFn")


def test_given_stack_when_synthesised_then_the_finishers_sign_and_deletions_are_handed_to_the_eraser(
    synthesized,
) -> None:
    _, tj = synthesized
    functions = resources(tj, "AWS::Lambda::Function")
    env = {k: f["Properties"].get("Environment", {}).get("Variables", {}) for k, f in functions.items()}
    signers = [k for k, v in env.items() if "SWAPFLOW_SIGNING_SECRET_ARN" in v]
    erasers = [k for k, v in env.items() if "SWAPFLOW_ERASER_FUNCTION" in v]

    # whoever finishes a job archives (and so marks) its outputs: the Run pass, the finisher, the
    # provider webhook, the engine
    assert sorted(k.split("Fn")[0] for k in signers) == [
        "ApiWebhook",
        "EngineFunction47EFDC5A",
        "WorkflowFinisher",
        "WorkflowRunJob",
    ]
    # the API, and the batch runner's step (a job created while its batch was being deleted)
    assert sorted(e.split("Fn")[0] for e in erasers) == ["ApiApi", "BatchesRunBatchJob"]
    assert "SigningSecretArn" in tj["Outputs"] and "EraserFunctionName" in tj["Outputs"]
