"""Which module creates each resource type, and why the others are skipped locally.

One creator per CloudFormation type: ``CREATORS`` maps the type to a function ``(deployer, logical id,
resolved properties)`` in the module of its service. Types without one are skipped with the note of
``SKIP_NOTES`` (or of their prefix in ``SKIP_PREFIXES``); unknown types are logged and skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import dynamodb, events, iam, keys, lambdas, monitoring, s3, sqs, stepfunctions

if TYPE_CHECKING:
    from infra.local.deployer import Deployer

CREATORS: dict[str, Callable[[Deployer, str, dict[str, Any]], None]] = {
    "AWS::DynamoDB::Table": dynamodb.dynamodb_table,
    "AWS::S3::Bucket": s3.s3_bucket,
    "Custom::S3BucketNotifications": s3.s3_notifications,
    "AWS::IAM::Role": iam.iam_role,
    "AWS::Lambda::Function": lambdas.lambda_function,
    "AWS::Lambda::EventSourceMapping": lambdas.lambda_event_source_mapping,
    "AWS::Lambda::EventInvokeConfig": lambdas.event_invoke_config,
    "AWS::StepFunctions::StateMachine": stepfunctions.state_machine,
    "AWS::Events::EventBus": events.event_bus,
    "AWS::Events::Rule": events.events_rule,
    "AWS::SQS::Queue": sqs.sqs_queue,
    "AWS::Logs::LogGroup": monitoring.log_group,
    "AWS::KMS::Key": keys.kms_key,
    "AWS::KMS::Alias": keys.kms_alias,
    "AWS::SecretsManager::Secret": keys.secret,
    "AWS::SSM::Parameter": keys.ssm_parameter,
    "AWS::SNS::Topic": monitoring.sns_topic,
    "AWS::CloudWatch::Alarm": monitoring.cloudwatch_alarm,
}

SKIP_NOTES: dict[str, str] = {
    "AWS::S3::BucketPolicy": "bucket policies are not enforced locally",
    "AWS::SQS::QueuePolicy": "queue policies are not enforced locally",
    "AWS::SNS::TopicPolicy": "topic policies are not enforced locally",
    "AWS::IAM::Policy": "IAM is not enforced locally",
    "AWS::IAM::ManagedPolicy": "IAM is not enforced locally",
    "AWS::IAM::InstanceProfile": "no local meaning",
    "AWS::Lambda::Permission": "resource policies are not enforced locally",
    "AWS::Lambda::Version": "functions run unversioned locally",
    "AWS::Lambda::Alias": "functions run unversioned locally",
    "AWS::Lambda::LayerVersion": "layers: the code is imported in-process",
    "AWS::Lambda::Url": "function URLs are not served locally",
    "AWS::Logs::MetricFilter": "no local meaning",
    "AWS::Logs::SubscriptionFilter": "no local meaning",
    "AWS::Logs::ResourcePolicy": "no local meaning",
    "AWS::CloudWatch::Dashboard": "no local meaning",
    "AWS::CloudWatch::CompositeAlarm": "no local meaning",
    "AWS::SecretsManager::SecretTargetAttachment": "no local meaning",
    "AWS::SecretsManager::RotationSchedule": "rotation is not run locally",
    "AWS::SecretsManager::ResourcePolicy": "no local meaning",
    "AWS::KMS::ReplicaKey": "no local meaning",
    "AWS::CDK::Metadata": "CDK metadata",
    "AWS::Events::Archive": "archives are not kept locally",
    "AWS::SNS::Subscription": "SNS subscriptions are not modelled locally",
    "AWS::WAFv2::WebACL": "no WAF locally",
    "AWS::WAFv2::WebACLAssociation": "no WAF locally",
    "AWS::XRay::Group": "no X-Ray locally",
    "AWS::ECR::Repository": "images are not pulled locally",
}

SKIP_PREFIXES: dict[str, str] = {
    "AWS::ApiGateway::": "played by infra.local.gateway from the template",
    "AWS::ApiGatewayV2::": "HTTP APIs are not played locally",
    "AWS::EventSchemas::": "schemas have no local meaning",
    "AWS::CloudFormation::": "no local meaning",
    "Custom::": "custom resource not run locally",
}


def prefix_note(rtype: str) -> str | None:
    for prefix, note in SKIP_PREFIXES.items():
        if rtype.startswith(prefix):
            return note
    return None
