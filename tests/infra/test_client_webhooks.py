"""The client webhook delivery in the synthesised template: rule -> first attempt -> retry machine -> DLQ."""

from __future__ import annotations

import json
from typing import Any

from swapflow.storage.webhooks import CLAIM_PREFIX
from swapflow.webhooks import DELIVERED_EVENTS, RETRY_SCHEDULE

from infra.constructs import client_webhooks


def _resources(tj: dict[str, Any], rtype: str, prefix: str = "ClientWebhooks") -> dict[str, dict[str, Any]]:
    return {k: v for k, v in tj["Resources"].items() if v["Type"] == rtype and k.startswith(prefix)}


def _one(tj: dict[str, Any], rtype: str, prefix: str = "ClientWebhooks") -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = _resources(tj, rtype, prefix).items()
    return logical_id, resource


def _definition(tj: dict[str, Any]) -> dict[str, Any]:
    _, machine = _one(tj, "AWS::StepFunctions::StateMachine")
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return dict(json.loads("".join(p if isinstance(p, str) else "ARN" for p in parts)))


def _statements(tj: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for policy in _resources(tj, "AWS::IAM::Policy", "").values():
        if any(r["Ref"].startswith(role_prefix) for r in policy["Properties"]["Roles"]):
            out.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


def test_given_stack_when_synthesised_then_terminal_job_events_go_to_the_first_attempt_function(synthesized) -> None:
    _, tj = synthesized
    _, rule = _one(tj, "AWS::Events::Rule")
    first_id, first = _one(tj, "AWS::Lambda::Function", "ClientWebhooksFirstAttemptFn")
    machine_id, _ = _one(tj, "AWS::StepFunctions::StateMachine")
    queue_id, _ = _one(tj, "AWS::SQS::Queue")

    assert rule["Properties"]["EventPattern"] == {"source": ["swapflow"], "detail-type": list(DELIVERED_EVENTS)}
    assert list(DELIVERED_EVENTS) == client_webhooks.DELIVERED_EVENTS
    assert rule["Properties"]["EventBusName"]["Ref"].startswith("NotificationsBus")
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [first_id, "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    # only a retry starts the machine: the first-attempt function knows it, the machine's Deliver does not
    assert first["Properties"]["Environment"]["Variables"]["SWAPFLOW_WEBHOOK_STATE_MACHINE_ARN"] == {"Ref": machine_id}
    (invoke_config,) = _resources(tj, "AWS::Lambda::EventInvokeConfig").values()
    on_failure = invoke_config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
    assert on_failure == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_given_stack_when_synthesised_then_delivery_follows_the_schedule_loop_and_ends_in_the_dlq(
    synthesized,
) -> None:
    _, tj = synthesized
    definition = _definition(tj)
    states = definition["States"]

    assert definition["StartAt"] == "Outcome"  # of the first attempt, made before the machine started
    deliver = states["Deliver"]
    assert deliver["Parameters"] == {
        "event.$": "$.event",
        "attempt.$": "$.delivery.attempt",
        "execution.$": "$.owner",
    }
    assert deliver["ResultPath"] == "$.delivery" and deliver["Next"] == "Outcome"
    assert deliver["Retry"][0]["JitterStrategy"] == "FULL"
    assert deliver["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "ToDeadLetters"}]
    choices = {c["StringEquals"]: c["Next"] for c in states["Outcome"]["Choices"]}
    assert choices == {"retry": "Backoff", "dead_letter": "ToDeadLetters"}
    assert states[states["Outcome"]["Default"]]["Type"] == "Succeed"
    assert states["Backoff"] == {"Type": "Wait", "SecondsPath": "$.delivery.wait", "Next": "Deliver"}
    dead = states["ToDeadLetters"]
    assert dead["Resource"].endswith(":states:::sqs:sendMessage") and dead["Parameters"]["MessageBody.$"] == "$"
    assert states[dead["Next"]]["Type"] == "Fail"
    assert definition["TimeoutSeconds"] > sum(RETRY_SCHEDULE)


def test_given_stack_when_synthesised_then_delivery_machine_is_standard_logged_and_traced(synthesized) -> None:
    _, tj = synthesized
    _, machine = _one(tj, "AWS::StepFunctions::StateMachine")
    props = machine["Properties"]

    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False


def test_given_stack_when_synthesised_then_the_dlq_is_encrypted_tls_only_and_alarmed(synthesized) -> None:
    _, tj = synthesized
    queue_id, queue = _one(tj, "AWS::SQS::Queue")
    _, policy = _one(tj, "AWS::SQS::QueuePolicy")

    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    alarms = _resources(tj, "AWS::CloudWatch::Alarm", "Observability").values()
    assert any(json.dumps(a["Properties"]).count(queue_id) for a in alarms)
    assert tj["Outputs"]["UndeliveredWebhooksQueueUrl"]["Value"] == {"Ref": queue_id}


def test_given_stack_when_synthesised_then_each_role_gets_only_what_delivery_needs(synthesized) -> None:
    _, tj = synthesized
    needs = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:GetItem", "dynamodb:PutItem"}
    deliver = _statements(tj, "ClientWebhooksDeliverFn")
    # The signers (first attempt, retries): they decrypt the tenants' webhook secrets and presign outputs.
    signer = needs | {"kms:Decrypt"}
    read_archive = {"s3:GetObject*", "s3:GetBucket*", "s3:List*"}
    assert _actions(deliver) - read_archive == signer
    first = _statements(tj, "ClientWebhooksFirstAttemptFn")
    assert _actions(first) - read_archive == signer | {
        "states:StartExecution",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    for statements in (deliver, first):
        (put,) = [s for s in statements if s["Action"] == "dynamodb:PutItem"]
        assert put["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{CLAIM_PREFIX}*"]}}

    machine = _actions(_statements(tj, "ClientWebhooksDeliveryStateMachineRole"))
    assert {"lambda:InvokeFunction", "sqs:SendMessage"} <= machine
    assert not {a for a in machine if a.split(":")[0] in ("dynamodb", "s3", "events", "secretsmanager")}


def test_given_stack_when_synthesised_then_the_deliver_function_runs_the_client_webhook_handler(synthesized) -> None:
    _, tj = synthesized
    functions = _resources(tj, "AWS::Lambda::Function")
    assert len(functions) == 2  # first attempt, retries
    for fn in functions.values():
        assert fn["Properties"]["Handler"] == "swapflow.handlers.client_webhook.handler"
        assert fn["Properties"]["Timeout"] == 30
