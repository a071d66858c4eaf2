"""infra.local.deployer: intrinsics, ordering, skipping and the shared-environment check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.deployer import Deployment, EnvironmentConflictError, deploy


@pytest.fixture
def aws(aws_env: None) -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


def _fn(handler: str, env: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Code": {"ZipFile": "#"},
            "Handler": handler,
            "Runtime": "python3.12",
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Environment": {"Variables": env},
        },
    }


ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}},
}


def test_GIVEN_intrinsics_WHEN_deployed_THEN_outputs_resolve_like_cloudformation(aws: Any) -> None:
    template = {
        "Parameters": {
            "Env": {"Type": "String", "Default": "dev"},
            "Names": {"Type": "CommaDelimitedList", "Default": "a,b"},
        },
        "Mappings": {"Sizes": {"dev": {"mem": "256"}}},
        "Conditions": {
            "IsDev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]},
            "IsProd": {"Fn::Not": [{"Condition": "IsDev"}]},
        },
        "Resources": {
            # listed before the queue it references: deployed after it
            "Param": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Type": "String",
                    "Value": {"Fn::Sub": "${Queue.QueueName}|${AWS::Region}|${!Literal}|${Env}"},
                    "Description": {"Fn::If": ["IsProd", "prod", {"Ref": "AWS::NoValue"}]},
                },
            },
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 45}},
            "ProdOnly": {"Type": "AWS::SQS::Queue", "Condition": "IsProd", "Properties": {}},
            "Weird": {"Type": "AWS::Foo::Bar", "Properties": {"X": {"Ref": "Queue"}}},
            "Custom": {"Type": "Custom::Thing", "Properties": {"ServiceToken": "arn:aws:lambda:x"}},
        },
        "Outputs": {
            "Sub": {"Value": {"Fn::GetAtt": ["Param", "Value"]}},
            "SubList": {"Value": {"Fn::Sub": ["${A}-${B}", {"A": {"Fn::Select": [1, {"Ref": "Names"}]}, "B": "x"}]}},
            "Split": {"Value": {"Fn::Select": [2, {"Fn::Split": [":", {"Fn::GetAtt": ["Queue", "Arn"]}]}]}},
            "Map": {"Value": {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "mem"]}},
            "Az": {"Value": {"Fn::Select": [0, {"Fn::GetAZs": ""}]}},
            "Join": {
                "Value": {
                    "Fn::Join": [
                        "/",
                        [{"Ref": "AWS::Partition"}, {"Ref": "AWS::URLSuffix"}, {"Ref": "AWS::StackName"}],
                    ]
                }
            },
            "Prod": {"Condition": "IsProd", "Value": {"Ref": "ProdOnly"}},
            "Url": {"Value": {"Ref": "Queue"}},
        },
    }
    dep = deploy(template, stack_name="Test", session=aws)
    queue_name = dep.attrs[("Queue", "QueueName")]
    assert queue_name.startswith("Test-Queue-")
    assert dep.outputs["Sub"] == f"{queue_name}|us-east-1|${{Literal}}|dev"
    assert dep.outputs["SubList"] == "b-x"
    assert dep.outputs["Split"] == "sqs"
    assert dep.outputs["Map"] == "256"
    assert dep.outputs["Az"] == "us-east-1a"
    assert dep.outputs["Join"] == "aws/amazonaws.com/Test"
    assert "Prod" not in dep.outputs
    assert dep.outputs["Url"].endswith(f"/123456789012/{queue_name}")
    assert set(dep.skipped) == {"ProdOnly", "Weird", "Custom"}
    param = aws.client("ssm").get_parameter(Name=dep.physical["Param"])["Parameter"]
    assert param["Value"] == dep.outputs["Sub"]
    attrs = aws.client("sqs").get_queue_attributes(QueueUrl=dep.outputs["Url"], AttributeNames=["VisibilityTimeout"])
    assert attrs["Attributes"]["VisibilityTimeout"] == "45"


def test_GIVEN_same_template_WHEN_deployed_twice_THEN_physical_names_are_stable(aws: Any) -> None:
    from moto import mock_aws

    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}}
    first = deploy(template, stack_name="Stable", session=aws).physical["Queue"]
    with mock_aws():
        second = deploy(template, stack_name="Stable").physical["Queue"]
    assert first == second


def test_GIVEN_functions_sharing_env_WHEN_deployed_THEN_merged_and_per_function_vars_excluded(
    aws: Any,
) -> None:
    template = {
        "Resources": {
            "Role": ROLE,
            "A": _fn("m.a", {"TABLE": "t", "POWERTOOLS_SERVICE_NAME": "a"}),
            "B": _fn("m.b", {"TABLE": "t", "BUCKET": "b", "POWERTOOLS_SERVICE_NAME": "b"}),
        }
    }
    dep: Deployment = deploy(template, stack_name="Env", session=aws)
    assert dep.function_env == {"TABLE": "t", "BUCKET": "b"}
    assert set(dep.functions) == {"A", "B"}
    conf = aws.client("lambda").get_function_configuration(FunctionName=dep.functions["A"])
    assert conf["Handler"] == "m.a" and conf["Role"] == dep.attrs[("Role", "Arn")]
    assert dep.function_name_for_arn(dep.attrs[("B", "Arn")]) == dep.functions["B"]


def test_GIVEN_functions_disagreeing_on_a_shared_var_WHEN_deployed_THEN_it_raises(aws: Any) -> None:
    template = {"Resources": {"Role": ROLE, "A": _fn("m.a", {"TABLE": "t1"}), "B": _fn("m.b", {"TABLE": "t2"})}}
    with pytest.raises(EnvironmentConflictError, match="TABLE"):
        deploy(template, session=aws)


def test_GIVEN_dependency_cycle_WHEN_deployed_THEN_it_is_broken_not_fatal(aws: Any) -> None:
    template = {
        "Resources": {
            "P1": {"Type": "AWS::IAM::Policy", "DependsOn": "P2", "Properties": {}},
            "P2": {"Type": "AWS::IAM::Policy", "DependsOn": "P1", "Properties": {}},
            "Topic": {"Type": "AWS::SNS::Topic", "DependsOn": ["P1"], "Properties": {}},
        }
    }
    dep = deploy(template, session=aws)
    assert dep.physical["Topic"].startswith("arn:aws:sns:")


def test_GIVEN_secret_and_kms_WHEN_deployed_THEN_secret_generated_and_alias_points_at_key(aws: Any) -> None:
    template = {
        "Resources": {
            "Key": {
                "Type": "AWS::KMS::Key",
                "Properties": {"EnableKeyRotation": True, "KeyPolicy": {"Statement": []}},
            },
            "Alias": {
                "Type": "AWS::KMS::Alias",
                "Properties": {"AliasName": "alias/t", "TargetKeyId": {"Fn::GetAtt": ["Key", "Arn"]}},
            },
            "Secret": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {"GenerateSecretString": {"PasswordLength": 40, "ExcludeCharacters": "abc"}},
            },
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}},
            "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "b"}},
            "Meta": {"Type": "AWS::CDK::Metadata", "Properties": {}},
        }
    }
    dep = deploy(template, session=aws)
    value = aws.client("secretsmanager").get_secret_value(SecretId=dep.physical["Secret"])["SecretString"]
    assert len(value) == 40 and not set("abc") & set(value)
    aliases = aws.client("kms").list_aliases()["Aliases"]
    assert any(a["AliasName"] == "alias/t" and a.get("TargetKeyId") == dep.physical["Key"] for a in aliases)
    groups = aws.client("logs").describe_log_groups()["logGroups"]
    assert groups[0]["retentionInDays"] == 7
    assert dep.attrs[("Bus", "Arn")].endswith(":event-bus/b")
    assert json.dumps(dep.skipped) and "Meta" in dep.skipped
