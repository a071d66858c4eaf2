"""The template's S3 trigger, Swap Requested rule, batch runner and event schema registry."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from test_stack import _actions, _statements, resources

from infra.constructs.event_schemas import DRAFT4


def machine(tj: dict[str, Any], prefix: str) -> dict[str, Any]:
    (resource,) = [v for k, v in resources(tj, "AWS::StepFunctions::StateMachine").items() if k.startswith(prefix)]
    parts = resource["Properties"]["DefinitionString"]["Fn::Join"][1]
    return dict(json.loads("".join(p if isinstance(p, str) else "ARN" for p in parts)))


def logical_id(tj: dict[str, Any], prefix: str, rtype: str = "AWS::Lambda::Function") -> str:
    (found,) = [k for k in resources(tj, rtype) if k.startswith(prefix)]
    return found


def test_given_stack_when_synthesised_then_json_under_inbox_of_the_input_bucket_triggers_the_s3_function(
    synthesized,
) -> None:
    _, tj = synthesized
    (notification,) = resources(tj, "Custom::S3BucketNotifications").values()
    assert notification["Properties"]["BucketName"]["Ref"].startswith("StorageInputBucket")
    configs = notification["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    suffixes = set()
    for config in configs:  # JSON manifests and JSONL manifests
        assert config["Events"] == ["s3:ObjectCreated:*"]
        rules = {r["Name"]: r["Value"] for r in config["Filter"]["Key"]["FilterRules"]}
        assert rules["prefix"] == "inbox/"
        suffixes.add(rules["suffix"])
        assert config["LambdaFunctionArn"]["Fn::GetAtt"][0] == logical_id(tj, "TriggersS3TriggerFn")
    assert suffixes == {".json", ".jsonl"}


def test_given_stack_when_synthesised_then_swap_requested_from_others_reaches_ingest_with_a_dlq(synthesized) -> None:
    _, tj = synthesized
    (rule,) = [r for r in resources(tj, "AWS::Events::Rule").values() if "Swap Requested" in json.dumps(r)]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern == {"detail-type": ["Swap Requested"], "source": [{"anything-but": ["swapflow"]}]}
    assert rule["Properties"]["EventBusName"]["Ref"].startswith("NotificationsBus")
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0] == logical_id(tj, "TriggersIngestFn")
    queue = logical_id(tj, "TriggersRejectedRequests", "AWS::SQS::Queue")
    assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] == queue
    assert tj["Resources"][queue]["Properties"]["SqsManagedSseEnabled"] is True
    ingest = _actions(_statements(tj, "TriggersIngestFn"))
    assert {"sqs:SendMessage", "events:PutEvents", "states:StartExecution"} <= ingest
    assert "states:SendTaskSuccess" not in ingest


def test_given_stack_when_synthesised_then_the_batch_runner_holds_a_slot_per_job_under_the_limit(synthesized) -> None:
    _, tj = synthesized
    definition = machine(tj, "BatchesRunner")
    run_jobs = definition["States"][definition["StartAt"]]
    assert run_jobs["Type"] == "Map" and run_jobs["ItemsPath"] == "$.jobs"
    assert run_jobs["MaxConcurrencyPath"] == "$.max_concurrency"
    assert run_jobs["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    states = run_jobs["ItemProcessor"]["States"]
    run_job = states[run_jobs["ItemProcessor"]["StartAt"]]
    assert run_job["Resource"].endswith("lambda:invoke.waitForTaskToken") and run_job["End"] is True
    assert run_job["Parameters"]["Payload"]["token.$"] == "$$.Task.Token"
    assert run_job["Catch"][0]["Next"] == "SlotLost"
    assert len(states) == 2  # one state per job on the way through: the slot is the task itself
    assert "states:StartExecution" in _actions(_statements(tj, "BatchesRunBatchJobFn"))
    assert "states:SendTaskSuccess" in _actions(_statements(tj, "WorkflowFinisherFn"))  # releases the slot
    assert "states:StartExecution" in _actions(_statements(tj, "TriggersS3TriggerFn"))


def test_given_stack_when_synthesised_then_a_registry_holds_a_draft4_schema_per_event(synthesized) -> None:
    _, tj = synthesized
    (registry,) = resources(tj, "AWS::EventSchemas::Registry").values()
    schemas = list(resources(tj, "AWS::EventSchemas::Schema").values())
    names = sorted(s["Properties"]["SchemaName"] for s in schemas)
    assert names == [
        "custom@SwapRequested",
        "swapflow@SwapBatchCompleted",
        "swapflow@SwapJobCancelled",
        "swapflow@SwapJobCompleted",
        "swapflow@SwapJobDeleted",
        "swapflow@SwapJobFailed",
        "swapflow@SwapRequestRejected",
    ]
    assert registry["Properties"]["RegistryName"]
    for schema in schemas:
        props = schema["Properties"]
        assert props["Type"] == "JSONSchemaDraft4"
        assert props["RegistryName"]["Fn::GetAtt"][1] == "RegistryName"
        content = json.loads(props["Content"])
        assert content["$schema"] == DRAFT4
        jsonschema.Draft4Validator.check_schema(content)
        assert content["properties"]["detail-type"]["enum"] == [content["title"]]


def test_given_stack_when_synthesised_then_jsonl_manifests_register_then_map_over_the_object(synthesized) -> None:
    _, tj = synthesized
    definition = machine(tj, "BatchesManifestRunner")
    states = definition["States"]
    assert definition["StartAt"] == "Register" and states["Register"]["Next"] == "Registered"
    choices = {c["Variable"]: c["Next"] for c in states["Registered"]["Choices"]}
    assert choices == {"$.refused": "ManifestRefused", "$.done": "RunLines"}
    assert states["Registered"]["Default"] == "Register"  # another pass over the next part
    run_lines = states["RunLines"]
    assert run_lines["ItemReader"]["ReaderConfig"] == {"InputType": "JSONL"}
    assert run_lines["ItemReader"]["Resource"].endswith(":states:::s3:getObject")
    assert run_lines["ItemReader"]["Parameters"]["Key.$"] == "$.manifest.key"
    assert run_lines["ResultWriter"]["Resource"].endswith(":states:::s3:putObject")
    assert run_lines["ItemSelector"]["index.$"] == "$$.Map.Item.Index"
    assert run_lines["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    run_job = run_lines["ItemProcessor"]["States"]["RunJob"]
    assert run_job["Resource"].endswith("lambda:invoke.waitForTaskToken")
    assert run_job["Parameters"]["Payload"]["index.$"] == "$.index"


def test_given_stack_when_synthesised_then_run_job_may_stop_the_job_execution_of_a_job_cancelled_as_it_started(
    synthesized,
) -> None:
    """A batch cancelled while a RunJob step staged its job: the step cancels it and stops its execution."""
    _, tj = synthesized
    stops = [st for st in _statements(tj, "BatchesRunBatchJobFn") if "states:StopExecution" in _actions([st])]
    assert stops and all("Workflow" in json.dumps(st["Resource"]) for st in stops)
    assert "states:StopExecution" in _actions(_statements(tj, "ApiApiFn"))  # POST /v1/batches/{id}/cancel
