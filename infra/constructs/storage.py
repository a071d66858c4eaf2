"""Storage: the jobs table and the input and archive buckets (encrypted, versioned, private)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct
from swapflow.storage import schema


def webhook_secrets_alias_name(stack_name: str) -> str:
    """Without the `alias/` prefix CDK adds; swapflow.storage.tenants.webhook_secrets_alias is the same."""
    return f"{stack_name}/webhook-secrets"


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = self._build_table()
        self.webhook_secrets_key = self._build_webhook_secrets_key()
        self.access_logs = self._build_access_logs_bucket()
        self.input_bucket = self._build_bucket(
            "InputBucket",
            "input/",
            [
                s3.LifecycleRule(id="staging", prefix="staging/", expiration=Duration.days(2)),
                s3.LifecycleRule(id="inputs", prefix="inputs/", expiration=Duration.days(30)),
                # Big batch job requests (data: URIs) parked until their turn (jobs/batches.py).
                s3.LifecycleRule(id="batches", prefix="batches/", expiration=Duration.days(30)),
                # API uploads (jobs/uploads.py): jobs copy what they use into inputs/, so a week is plenty.
                s3.LifecycleRule(id="uploads", prefix="uploads/", expiration=Duration.days(7)),
                s3.LifecycleRule(id="noncurrent", noncurrent_version_expiration=Duration.days(7)),
            ],
        )
        self.archive_bucket = self._build_bucket(
            "ArchiveBucket",
            "archive/",
            [s3.LifecycleRule(id="noncurrent", noncurrent_version_expiration=Duration.days(30))],
            cors_methods=[s3.HttpMethods.GET],  # outputs are downloaded by URL; nothing is PUT there
        )

    def _build_table(self) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            "Jobs",
            partition_key=dynamodb.Attribute(name=schema.PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=schema.SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="ttl",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        table.add_global_secondary_index(
            index_name=schema.TENANT_INDEX,
            partition_key=dynamodb.Attribute(name=schema.TENANT_INDEX_KEYS[0], type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=schema.TENANT_INDEX_KEYS[1], type=dynamodb.AttributeType.STRING),
        )
        return table

    def _build_access_logs_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(id="expire", expiration=Duration.days(90))],
        )
        Validations.of(bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1", reason="This is the access-log bucket; logging it to itself would loop."
            )
        )
        return bucket

    def _build_webhook_secrets_key(self) -> kms.Key:
        """Seals tenants' `whsec_` signing secrets in the table (storage/tenants.py). KMS rather than a
        Secrets Manager secret per tenant: one key for any number of tenants, no IAM wildcard over secret
        names, the secret stays on the tenant record (conditional create and rotate), and the tenant as
        encryption context binds each ciphertext to its record. Only the client-webhook signer is granted
        kms:Decrypt; operators (keys CLI, `make up`) encrypt with their own IAM rights."""
        return kms.Key(
            self,
            "WebhookSecretsKey",
            description="swapflow: tenants' webhook signing secrets",
            alias=webhook_secrets_alias_name(Stack.of(self).stack_name),
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _build_bucket(
        self,
        construct_id: str,
        log_prefix: str,
        rules: list[s3.LifecycleRule],
        cors_methods: list[s3.HttpMethods] | None = None,
    ) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=log_prefix,
            lifecycle_rules=rules,
            cors=[
                s3.CorsRule(
                    # Browsers PUT uploads into the input bucket with presigned URLs (the URL is the credential).
                    allowed_methods=cors_methods or [s3.HttpMethods.PUT, s3.HttpMethods.GET],
                    allowed_origins=["*"],
                    allowed_headers=["*"],
                    max_age=3000,
                )
            ],
        )
