"""The synthesised template: workflow shape, encryption, least privilege, DLQs, cdk-nag."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from infra.stack import NAG_ACKNOWLEDGEMENTS, OWNED_WILDCARDS


def resources(template_json: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template_json["Resources"].items() if v["Type"] == rtype}


def definition(template_json: dict[str, Any]) -> dict[str, Any]:
    machines = resources(template_json, "AWS::StepFunctions::StateMachine")
    (machine,) = [m for k, m in machines.items() if k.startswith("Workflow")]  # the job workflow
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "ARN" for p in parts)
    return dict(json.loads(text))


def test_given_stack_when_synthesised_then_the_workflow_is_one_run_task_with_its_loops_as_retries(synthesized) -> None:
    _, tj = synthesized
    states = definition(tj)["States"]
    assert definition(tj)["StartAt"] == "Run"
    run = states["Run"]
    assert run["Resource"].endswith("lambda:invoke.waitForTaskToken") and run["End"] is True
    assert run["TimeoutSecondsPath"] == "$.wait"
    assert run["Parameters"]["Payload"]["token.$"] == "$$.Task.Token"
    retries = {r["ErrorEquals"][0]: r for r in run["Retry"]}
    assert [r["ErrorEquals"][0] for r in run["Retry"]][:3] == [
        "ProviderSlotBusyError",
        "ProviderBusyError",
        "States.Timeout",
    ]
    for name in ("ProviderSlotBusyError", "ProviderBusyError", "States.Timeout"):
        assert retries[name]["JitterStrategy"] == "FULL" and retries[name]["MaxDelaySeconds"] <= 60
    assert retries["ProviderSlotBusyError"]["MaxAttempts"] >= 1000  # queueing for a slot may take long
    assert run["Catch"][0]["Next"] == "RecordFailure" and run["Catch"][0]["ErrorEquals"] == ["States.ALL"]
    assert states["RecordFailure"]["Next"] == "JobFailed"
    assert states["RecordFailure"]["Catch"][0]["Next"] == "CouldNotRecordFailure"
    assert len(states) == 4  # Run, RecordFailure, JobFailed, CouldNotRecordFailure


def test_given_stack_when_synthesised_then_state_machine_is_standard_logged_and_traced(synthesized) -> None:
    template, _ = synthesized
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": Match.object_like({"Level": "ALL"}),
        },
    )


def test_given_stack_when_synthesised_then_buckets_are_encrypted_private_and_tls_only(synthesized) -> None:
    _template, tj = synthesized
    buckets = resources(tj, "AWS::S3::Bucket")
    assert len(buckets) == 3
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
    versioned = [b for b in buckets.values() if b["Properties"].get("VersioningConfiguration")]
    assert len(versioned) == 2
    policies = resources(tj, "AWS::S3::BucketPolicy")
    assert len(policies) == 3
    for policy in policies.values():
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_given_stack_when_synthesised_then_table_has_ttl_pitr_and_encryption(synthesized) -> None:
    template, _ = synthesized
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "BillingMode": "PAY_PER_REQUEST",
        },
    )


def test_given_engine_when_invoked_async_then_failures_land_in_an_encrypted_dlq(synthesized) -> None:
    _template, tj = synthesized
    configs = resources(tj, "AWS::Lambda::EventInvokeConfig").values()
    (config,) = [c for c in configs if c["Properties"]["FunctionName"]["Ref"].startswith("EngineFunction")]
    destination = config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
    queue_id = destination["Fn::GetAtt"][0]
    assert tj["Resources"][queue_id]["Type"] == "AWS::SQS::Queue"
    assert tj["Resources"][queue_id]["Properties"]["SqsManagedSseEnabled"] is True
    assert config["Properties"]["MaximumRetryAttempts"] == 1


def _statements(tj: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    out = []
    for policy in resources(tj, "AWS::IAM::Policy").values():
        roles = [r["Ref"] for r in policy["Properties"]["Roles"]]
        if any(r.startswith(role_prefix) for r in roles):
            out.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for s in statements:
        found.update([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    return found


def test_given_functions_when_synthesised_then_each_gets_only_what_it_needs(synthesized) -> None:
    _, tj = synthesized
    api = _actions(_statements(tj, "ApiApiFn"))
    # accept (start), cancel (stop, announce, free a batch slot), check a provider is configured
    assert {"states:StartExecution", "states:StopExecution", "events:PutEvents", "states:SendTaskSuccess"} <= api
    assert "secretsmanager:GetSecretValue" in api
    # the one function the API invokes is the eraser (DELETE /v1/jobs/{id}), never the engine
    invoked = [st["Resource"] for st in _statements(tj, "ApiApiFn") if "lambda:InvokeFunction" in _actions([st])]
    assert invoked and all("RetentionEraserFn" in json.dumps(r) for r in invoked)
    finisher = _actions(_statements(tj, "WorkflowFinisherFn"))
    assert "events:PutEvents" in finisher and "states:StartExecution" not in finisher
    webhook = _actions(_statements(tj, "ApiWebhookFn"))
    assert "states:SendTaskSuccess" in webhook and "events:PutEvents" in webhook  # it finishes the job
    assert "states:StartExecution" not in webhook
    submit = _actions(_statements(tj, "WorkflowRunJobFn"))
    assert "lambda:InvokeFunction" in submit and "secretsmanager:GetSecretValue" in submit
    for surface in ("ApiCompatWavespeedFn", "ApiCompatAkoolFn"):
        compat = _actions(_statements(tj, surface))
        assert {"states:StartExecution", "s3:PutObject", "dynamodb:GetItem"} <= compat
        assert "secretsmanager:GetSecretValue" in compat
        assert not {"events:PutEvents", "states:SendTaskSuccess", "states:StopExecution"} & compat
        assert "lambda:InvokeFunction" not in compat


def test_given_api_when_synthesised_then_each_drop_in_surface_proxies_to_its_own_function(synthesized) -> None:
    _, tj = synthesized
    api_resources = resources(tj, "AWS::ApiGateway::Resource")
    methods = resources(tj, "AWS::ApiGateway::Method").values()
    functions = resources(tj, "AWS::Lambda::Function")
    wavespeed_fn = next(k for k in functions if k.startswith("ApiCompatWavespeedFn"))
    akool_fn = next(k for k in functions if k.startswith("ApiCompatAkoolFn"))

    def proxy_function(*path: str) -> str:
        parent: Any = None
        for part in path:
            parent = {
                "Ref": next(
                    k
                    for k, r in api_resources.items()
                    if r["Properties"]["PathPart"] == part and (parent is None or r["Properties"]["ParentId"] == parent)
                )
            }
        (proxy,) = [
            k
            for k, r in api_resources.items()
            if r["Properties"]["ParentId"] == parent and r["Properties"]["PathPart"] == "{proxy+}"
        ]
        (method,) = [m for m in methods if m["Properties"]["ResourceId"] == {"Ref": proxy}]
        assert method["Properties"]["HttpMethod"] == "ANY"
        uri = json.dumps(method["Properties"]["Integration"]["Uri"])
        return next(fn for fn in (wavespeed_fn, akool_fn) if fn in uri)

    assert proxy_function("api", "v3") == wavespeed_fn
    assert proxy_function("api") == akool_fn  # /api/open/... and any other /api path
    assert proxy_function("interface") == akool_fn
    (rest_api,) = resources(tj, "AWS::ApiGateway::RestApi").values()
    assert "multipart/form-data" in rest_api["Properties"]["BinaryMediaTypes"]
    assert functions[wavespeed_fn]["Properties"]["Handler"] == "swapflow.handlers.compat_wavespeed.handler"
    assert functions[akool_fn]["Properties"]["Handler"] == "swapflow.handlers.compat_akool.handler"
    assert {functions[fn]["Properties"]["Timeout"] for fn in (wavespeed_fn, akool_fn)} == {29}


def test_given_api_when_synthesised_then_the_playground_pages_are_served_by_the_api_function(synthesized) -> None:
    _, tj = synthesized
    api_resources = resources(tj, "AWS::ApiGateway::Resource")
    methods = list(resources(tj, "AWS::ApiGateway::Method").values())
    api_fn = next(k for k in resources(tj, "AWS::Lambda::Function") if k.startswith("ApiApiFn"))
    (page,) = [k for k, r in api_resources.items() if r["Properties"]["PathPart"] == "playground"]
    (asset,) = [k for k, r in api_resources.items() if r["Properties"]["ParentId"] == {"Ref": page}]
    (docs,) = [k for k, r in api_resources.items() if r["Properties"]["PathPart"] == "docs"]
    root = [m for m in methods if "RootResourceId" in json.dumps(m["Properties"]["ResourceId"])]
    pages = ({"Ref": page}, {"Ref": asset}, {"Ref": docs})
    served = [*root, *(m for m in methods if m["Properties"]["ResourceId"] in pages)]

    assert len(served) == 4 and api_resources[asset]["Properties"]["PathPart"] == "{name}"
    for method in served:  # no API key for the page itself: its calls carry the key the user pastes
        assert method["Properties"]["HttpMethod"] == "GET"
        assert method["Properties"]["AuthorizationType"] == "NONE"
        assert api_fn in json.dumps(method["Properties"]["Integration"]["Uri"])


def test_given_any_policy_when_synthesised_then_no_action_wildcard_and_star_resources_are_justified(
    synthesized,
) -> None:
    _, tj = synthesized
    star_ok = {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    }
    for policy in resources(tj, "AWS::IAM::Policy").values():
        for s in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
            assert "*" not in actions
            if s["Resource"] == "*":
                assert set(actions) <= star_ok, actions


def test_given_nag_acknowledgements_then_each_has_a_reason() -> None:
    for finding, reason in {**NAG_ACKNOWLEDGEMENTS, **OWNED_WILDCARDS}.items():
        assert len(reason) > 30, finding


def test_given_api_when_synthesised_then_routes_are_lambda_proxies_with_logging(synthesized) -> None:
    template, tj = synthesized
    paths = {r["Properties"]["PathPart"] for r in resources(tj, "AWS::ApiGateway::Resource").values()}
    assert {"v1", "{proxy+}", "webhooks", "{provider}"} <= paths
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
        },
    )
    for method in resources(tj, "AWS::ApiGateway::Method").values():
        if method["Properties"]["HttpMethod"] != "OPTIONS":
            assert method["Properties"]["Integration"]["Type"] == "AWS_PROXY"


def test_given_functions_when_synthesised_then_python313_on_arm64_traced_with_retained_logs(synthesized) -> None:
    _, tj = synthesized
    functions = resources(tj, "AWS::Lambda::Function")
    # CDK's own handler that applies the input bucket's S3 notification configuration at deploy time
    (notifications_handler,) = [k for k in functions if k.startswith("BucketNotificationsHandler")]
    functions.pop(notifications_handler)
    # api, webhook, 2 drop-in surfaces (WaveSpeed, Akool), 2 workflow steps (run, record failure), engine,
    # client-webhook first attempt and retries, batch runner step, manifest register, S3 trigger, ingest,
    # the eraser (deletion and retention)
    assert len(functions) == 14
    for fn in functions.values():
        props = fn["Properties"]
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]  # what infra/bundling.py bundles the wheels for
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Handler"].startswith("swapflow.handlers.")
        assert "LoggingConfig" in props


# ---- trust boundaries (DESIGN 7) ---------------------------------------------------------------------


def _all_statements(tj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (lid, s)
        for lid, policy in resources(tj, "AWS::IAM::Policy").items()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_given_any_role_when_synthesised_then_only_the_eraser_may_delete_and_none_abort_or_set_retention(
    synthesized,
) -> None:
    _, tj = synthesized
    for lid, s in _all_statements(tj):
        actions = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
        assert not [a for a in actions if a.startswith(("s3:Abort", "s3:PutObjectRetention"))], lid
        if not lid.startswith("RetentionEraserFn"):  # deletion on request and on schedule (issue 17)
            assert not [a for a in actions if a.startswith("s3:Delete")], lid


def test_given_nag_acknowledgements_then_no_stack_wide_star_resource_acknowledgement() -> None:
    assert not [f for f in NAG_ACKNOWLEDGEMENTS if "Resource::*" in f]
    assert not [f for f in NAG_ACKNOWLEDGEMENTS if "DeleteObject" in f or "Abort" in f]


def test_given_webhook_secrets_when_synthesised_then_only_the_signers_may_decrypt_them(synthesized) -> None:
    _, tj = synthesized
    (alias,) = resources(tj, "AWS::KMS::Alias").values()
    assert alias["Properties"]["AliasName"] == "alias/Swapflow/webhook-secrets"
    # The key the alias names (the stack also has the alarm topic's key).
    (key_id,) = [k for k in resources(tj, "AWS::KMS::Key") if k in json.dumps(alias["Properties"]["TargetKeyId"])]
    decrypting = {
        lid
        for lid, s in _all_statements(tj)
        if "kms:Decrypt" in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        and key_id in json.dumps(s["Resource"])
    }
    assert len(decrypting) == 2 and all(
        lid.startswith(("ClientWebhooksDeliverFn", "ClientWebhooksFirstAttemptFn")) for lid in decrypting
    )


def test_given_the_event_bus_when_synthesised_then_only_our_roles_may_put_source_swapflow(synthesized) -> None:
    _, tj = synthesized
    (policy,) = resources(tj, "AWS::Events::EventBusPolicy").values()
    statement = policy["Properties"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Principal"] == {"AWS": "*"}
    assert statement["Action"] == "events:PutEvents"
    assert statement["Condition"]["StringEquals"] == {"events:source": "swapflow"}
    allowed = json.dumps(statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
    publishers = {lid for lid, s in _all_statements(tj) if "events:PutEvents" in json.dumps(s["Action"])}
    roles = {lid.replace("DefaultPolicy", "") for lid in publishers}
    assert roles and all(role.rstrip("0123456789ABCDEF") in allowed for role in roles), (roles, allowed)


def test_given_the_archive_bucket_when_synthesised_then_cors_allows_no_put(synthesized) -> None:
    _, tj = synthesized
    buckets = resources(tj, "AWS::S3::Bucket")
    (archive,) = [b for lid, b in buckets.items() if lid.startswith("StorageArchiveBucket")]
    for rule in archive["Properties"]["CorsConfiguration"]["CorsRules"]:
        assert rule["AllowedMethods"] == ["GET"]


def test_given_the_api_when_synthesised_then_gateway_answers_use_the_error_envelope(synthesized) -> None:
    _, tj = synthesized
    found = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources(tj, "AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(found) >= {
        "REQUEST_TOO_LARGE",
        "MISSING_AUTHENTICATION_TOKEN",
        "THROTTLED",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    }
    too_large = found["REQUEST_TOO_LARGE"]
    assert too_large["StatusCode"] == "413"
    body = too_large["ResponseTemplates"]["application/json"]
    assert '"code": "request_too_large"' in body and "10 MB" in body and "/v1/uploads" in body
    assert found["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    assert '"not_found"' in found["MISSING_AUTHENTICATION_TOKEN"]["ResponseTemplates"]["application/json"]
    assert found["THROTTLED"]["StatusCode"] == "429"
    assert '"internal"' in found["DEFAULT_5XX"]["ResponseTemplates"]["application/json"]


def _lambda_tasks(node: Any) -> list[dict[str, Any]]:
    """Every Lambda task state in a definition (by lambda:invoke or a function's ARN), in Maps too."""
    if isinstance(node, list):
        return [t for item in node for t in _lambda_tasks(item)]
    if not isinstance(node, dict):
        return []
    resource = str(node.get("Resource", ""))
    own = [node] if "lambda:invoke" in resource or resource == "FUNCTION" else []
    return own + [t for value in node.values() for t in _lambda_tasks(value)]


def test_given_stack_when_synthesised_then_every_lambda_task_retries_every_lambda_failure_last(synthesized) -> None:
    """A Lambda service hiccup (throttle, 5xx, SDK client error) retried the same way in every machine, after
    the task's own rows (States.TaskFailed would shadow the errors they name)."""
    _, tj = synthesized
    service_errors = {
        "Lambda.TooManyRequestsException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
    }
    functions = resources(tj, "AWS::Lambda::Function")

    def text(part: Any) -> str:
        if isinstance(part, str):
            return part
        return "FUNCTION" if part.get("Fn::GetAtt", [""])[0] in functions else "ARN"

    seen = 0
    for machine in resources(tj, "AWS::StepFunctions::StateMachine").values():
        parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
        for task in _lambda_tasks(json.loads("".join(text(p) for p in parts))):
            last = task["Retry"][-1]
            seen += 1
            assert set(last["ErrorEquals"]) == {*service_errors, "States.TaskFailed"}, task
            assert last["JitterStrategy"] == "FULL"
            assert not any(set(r["ErrorEquals"]) & service_errors for r in task["Retry"][:-1])  # no CDK default
    assert seen == 6  # Run, RecordFailure, Deliver, RunJob (batches), Register, RunJob (manifests)
