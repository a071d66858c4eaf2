"""Responsible use: the eraser Lambda (deletion on request and the hourly retention sweep) and the C2PA
signing secret the finisher signs outputs with.

The eraser is the only function that may delete objects (every version: the buckets are versioned).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .functions import FunctionSpec, python_function
from .secrets import json_secret

SWEEP_EVERY = Duration.hours(1)
ERASER = FunctionSpec(
    "eraser.handler",
    "swapflow: deletes job photos on request and when their retention ends",
    memory_mb=512,
    timeout_s=300,
)


class Retention(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, environment: dict[str, str], buckets: list[s3.IBucket]
    ) -> None:
        super().__init__(scope, construct_id)
        self.eraser_fn = python_function(self, "EraserFn", ERASER, environment)
        self.eraser_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucketVersions", "s3:ListBucket"], resources=[b.bucket_arn for b in buckets]
            )
        )
        self.eraser_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:DeleteObject", "s3:DeleteObjectVersion"],
                resources=[b.arn_for_objects("*") for b in buckets],
            )
        )
        self.schedule = events.Rule(
            self,
            "Sweep",
            description="swapflow: the retention sweep (inputs and outputs past their tenant's retention)",
            schedule=events.Schedule.rate(SWEEP_EVERY),
            targets=[targets.LambdaFunction(self.eraser_fn, event=events.RuleTargetInput.from_object({"sweep": True}))],
        )
        self.signing_secret = self._build_signing_secret()

    def _build_signing_secret(self) -> secretsmanager.Secret:
        return json_secret(
            self,
            "SigningSecret",
            description="swapflow C2PA signing key, JSON {private_key: PEM, certificate_chain: PEM, leaf first}; "
            "empty: a self-signed chain is generated on first use",
            why_not_rotated="A signing certificate is issued by a CA; rotate it by putting a new key and chain.",
        )

    def grant_signing(self, fn: lambda_.Function) -> None:
        """The finisher signs outputs; it writes the secret only to store a first, generated key."""
        fn.add_environment("SWAPFLOW_SIGNING_SECRET_ARN", self.signing_secret.secret_arn)
        self.signing_secret.grant_read(fn)
        self.signing_secret.grant_write(fn)

    def grant_erase_requests(self, fn: lambda_.Function) -> None:
        fn.add_environment("SWAPFLOW_ERASER_FUNCTION", self.eraser_fn.function_name)
        self.eraser_fn.grant_invoke(fn)
