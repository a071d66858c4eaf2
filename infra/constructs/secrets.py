"""The one way this stack makes a JSON secret that a person fills in (provider keys, the signing key)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct


def json_secret(
    scope: Construct, construct_id: str, *, description: str, why_not_rotated: str
) -> secretsmanager.Secret:
    """An empty JSON secret; its cdk-nag rotation finding (SMG4) is acknowledged with `why_not_rotated`."""
    secret = secretsmanager.Secret(scope, construct_id, description=description, secret_object_value={})
    Validations.of(secret).acknowledge(Acknowledgment(id="AwsSolutions-SMG4", reason=why_not_rotated))
    return secret
