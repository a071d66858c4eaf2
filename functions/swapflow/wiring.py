"""The composition root: builds the service from settings and AWS clients, once per cold start.

Handlers call `service()`; tests build `JobService` themselves with their own clients.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from .settings import Settings, get_settings

if TYPE_CHECKING:
    from .jobs.access import Access
    from .jobs.batches import BatchService, BatchTracker
    from .jobs.ingest import SwapRequestIngest
    from .jobs.jsonl import JsonlManifests
    from .jobs.retention import JobEraser
    from .jobs.service import JobService
    from .jobs.uploads import UploadService
    from .provenance.keys import SigningKey
    from .storage.audit import DynamoAuditLog
    from .storage.dynamo import DynamoApiKeys
    from .storage.tenants import DynamoTenants
    from .webhooks import ClientWebhooks


@cache
def client(name: str) -> Any:
    import boto3

    return boto3.client(name)


@cache
def table() -> Any:
    import boto3

    return boto3.resource("dynamodb").Table(get_settings().require("table"))


def presign_client(settings: Settings) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
    if settings.local and settings.aws_endpoint:
        return boto3.client("s3", endpoint_url=settings.aws_endpoint, config=config)
    return boto3.client("s3", config=config)


@cache
def public_url() -> str:
    """Where providers call us back: the env override, else the SSM parameter the stack writes."""
    settings = get_settings()
    if settings.public_url:
        return settings.public_url
    if not settings.public_url_param:
        return ""
    value = client("ssm").get_parameter(Name=settings.public_url_param)["Parameter"]["Value"]
    return str(value).rstrip("/")


def secret_reader(secrets_client: Callable[[], Any], max_age_seconds: int) -> Callable[[str], dict[str, str]]:
    """Provider secrets through powertools Parameters, cached for `max_age_seconds`: a rotated key is read
    within that time, and Secrets Manager is not called for every job. A secret is a JSON object of
    settings (api_key, client_id, ...); anything else reads as empty."""
    provider: Any = None

    def read(arn: str) -> dict[str, str]:
        nonlocal provider
        if provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            provider = SecretsProvider(boto3_client=secrets_client())
        raw = provider.get(arn, max_age=max_age_seconds) or ""
        try:
            data = json.loads(raw)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    return read


def fetch_policy(settings: Settings) -> Any:
    """Reads of URLs (images, provider outputs): in local mode only the stack's own endpoints on loopback."""
    from .net import FetchPolicy

    if not settings.local:
        return FetchPolicy(max_bytes=settings.max_image_bytes)
    from .providers.registry import base_urls

    own = (settings.aws_endpoint, settings.public_url, *base_urls(settings))
    return FetchPolicy.trusting(own, max_bytes=settings.max_image_bytes)


def webhook_policy(settings: Settings) -> Any:
    """Client webhooks: the read policy, plus (local mode) any loopback receiver, as DESIGN 3 allows: a POST
    whose answer is dropped reads nothing back, unlike an image fetch, whose bytes become a job output."""
    from dataclasses import replace

    return replace(
        fetch_policy(settings), allow_loopback=settings.local, timeout=float(settings.webhook_timeout_seconds)
    )


@cache
def signing_key() -> SigningKey:
    """The stack's C2PA signing key, read once per cold start (its secret in AWS, a directory locally, where
    it outlives the embedded AWS so `swapflow verify` can trust the same CA after a restart)."""
    from .provenance.keys import DirectoryKeyStore, SecretKeyStore

    settings = get_settings()
    arn = settings.signing_secret_arn
    if not arn or settings.local:
        return DirectoryKeyStore(settings.signing_dir).load()
    secrets = client("secretsmanager")
    return SecretKeyStore(
        read=lambda: secrets.get_secret_value(SecretId=arn).get("SecretString") or "",
        write=lambda value: secrets.put_secret_value(SecretId=arn, SecretString=value),
    ).load()


@cache
def service() -> JobService:
    from .erase_requests import LambdaEraseRequests
    from .events import EventBridgePublisher
    from .jobs.inputs import InputLoader
    from .jobs.limits import RATE_WINDOW_MARGIN_SECONDS, RATE_WINDOW_SECONDS, ProviderGate
    from .jobs.service import JobService
    from .observability import ObservedProvider
    from .provenance import Provenance
    from .providers.registry import AUTO, PROVIDER_NAMES, Clients, ProviderRegistry
    from .storage.dynamo import DynamoJobRepository, DynamoReplayGuard
    from .storage.idempotency import DynamoIdempotencyRecords
    from .storage.limits import DynamoLeaseStore
    from .storage.s3 import S3BlobStore
    from .workflow import StepFunctionsWorkflow

    settings = get_settings()
    blobs = S3BlobStore(client("s3"), presign_client=presign_client(settings))
    return JobService(
        settings=settings,
        repo=DynamoJobRepository(table(), ttl_days=settings.job_ttl_days),
        blobs=blobs,
        workflow=StepFunctionsWorkflow(client("stepfunctions"), settings.state_machine_arn),
        events=EventBridgePublisher(client("events"), settings.event_bus),
        providers=ProviderRegistry(
            settings,
            Clients(
                lambda: client("lambda"),
                secret_reader(lambda: client("secretsmanager"), settings.secret_max_age_seconds),
                lambda name: DynamoReplayGuard(table(), name),
            ),
            max_age_seconds=settings.secret_max_age_seconds,
            wrap=ObservedProvider,
        ),
        provider_names=(*PROVIDER_NAMES, AUTO),
        inputs=InputLoader(
            blobs,
            input_bucket=settings.input_bucket,
            policy=fetch_policy(settings),
            max_pixels=settings.max_image_pixels,
            max_bytes=settings.max_image_bytes,
            aws_endpoint=settings.aws_endpoint if settings.local else "",
            callback_policy=webhook_policy(settings),
        ),
        public_url=public_url,
        idempotency=DynamoIdempotencyRecords(table()),
        on_job_changed=lambda job: batch_tracker().job_changed(job),
        gate=ProviderGate(
            DynamoLeaseStore(table()),
            concurrency=settings.provider_concurrency,
            rate_per_minute=settings.provider_rate_per_minute,
            # A lease outlives its job's deadline by a margin: a crashed finisher frees the slot then.
            lease_seconds=settings.job_deadline_seconds + 600,
            window_seconds=RATE_WINDOW_SECONDS * settings.time_scale + RATE_WINDOW_MARGIN_SECONDS,
        ),
        marker=Provenance(signing_key),
        retention=lambda tenant: tenants().retention(tenant),
        audit=audit_log(),
        erase=LambdaEraseRequests(client("lambda"), settings.eraser_function) if settings.eraser_function else None,
    )


@cache
def audit_log() -> DynamoAuditLog:
    from .storage.audit import DynamoAuditLog

    return DynamoAuditLog(table())


@cache
def eraser() -> JobEraser:
    """Deletion on request and the retention sweep (jobs/retention.py); only the eraser Lambda calls it."""
    from .jobs.retention import JobEraser

    settings = get_settings()
    svc = service()
    return JobEraser(
        repo=svc.repo,
        blobs=svc.blobs,
        events=svc.events,
        input_bucket=settings.require("input_bucket"),
        archive_bucket=settings.require("archive_bucket"),
        batches=batch_tracker().repo,
        audit=audit_log(),
    )


@cache
def uploads() -> UploadService:
    """Presigned PUTs into the input bucket (jobs/uploads.py), signed like every other presigned URL."""
    from .jobs.uploads import UploadService

    settings = get_settings()
    return UploadService(
        service().blobs,
        bucket=settings.require("input_bucket"),
        max_bytes=settings.max_image_bytes,
        download_expires=settings.presign_seconds,
    )


@cache
def client_webhooks() -> ClientWebhooks:
    """Outgoing client webhooks: one HTTP attempt per call, through the same SSRF guard as image URLs."""
    from .storage.dynamo import DynamoJobRepository
    from .storage.s3 import S3BlobStore
    from .storage.webhooks import DynamoDeliveryClaims
    from .webhooks import RETRY_SCHEDULE, ClientWebhooks, http_sender
    from .workflow import StepFunctionsWebhookRetries

    settings = get_settings()
    arn = settings.webhook_state_machine_arn
    blobs = S3BlobStore(client("s3"), presign_client=presign_client(settings))
    return ClientWebhooks(
        repo=DynamoJobRepository(table(), ttl_days=settings.job_ttl_days),
        presign=lambda bucket, key: blobs.presign_get(bucket, key, settings.presign_seconds),
        tenants=tenants(),
        claims=DynamoDeliveryClaims(table()),
        send=http_sender(webhook_policy(settings)),
        schedule=settings.webhook_retry_schedule or RETRY_SCHEDULE,
        retries=StepFunctionsWebhookRetries(client("stepfunctions"), arn) if arn else None,
    )


@cache
def batch_tracker() -> BatchTracker:
    """Batch counters, outbox deliveries and the one `Swap Batch Completed` (jobs/batches.py)."""
    from .events import EventBridgePublisher
    from .jobs.batches import BatchTracker
    from .storage.batches import DynamoBatchRepository

    settings = get_settings()
    svc = service()
    return BatchTracker(
        repo=DynamoBatchRepository(table(), ttl_days=settings.job_ttl_days),
        blobs=svc.blobs,
        events=EventBridgePublisher(client("events"), settings.event_bus),
        workflow=svc.workflow,
    )


@cache
def batches() -> BatchService:
    """POST /v1/batches, S3 manifests and the batch runner's RunJob step."""
    from .jobs.batches import BatchService
    from .workflow import StepFunctionsWorkflow

    settings = get_settings()
    tracker = batch_tracker()
    return BatchService(
        settings=settings,
        jobs=service(),
        repo=tracker.repo,
        runner=StepFunctionsWorkflow(client("stepfunctions"), settings.batch_state_machine_arn),
        tracker=tracker,
    )


@cache
def jsonl_manifests() -> JsonlManifests:
    """JSONL manifests (up to 100,000 jobs): acceptance, the manifest runner's Register and RunJob steps."""
    from .jobs.jsonl import JsonlManifests
    from .workflow import StepFunctionsWorkflow

    settings = get_settings()
    return JsonlManifests(
        batches=batches(),
        runner=StepFunctionsWorkflow(client("stepfunctions"), settings.manifest_state_machine_arn),
    )


@cache
def ingest() -> SwapRequestIngest:
    """`Swap Requested` events -> jobs; rejected ones -> the ingest DLQ and `Swap Request Rejected`."""
    from .deadletters import SqsDeadLetters
    from .events import EventBridgePublisher
    from .jobs.ingest import SwapRequestIngest

    settings = get_settings()
    return SwapRequestIngest(
        jobs=service(),
        dead_letters=SqsDeadLetters(client("sqs"), settings.require("ingest_dlq_url")),
        events=EventBridgePublisher(client("events"), settings.event_bus),
        tenant=settings.trigger_tenant,
    )


@cache
def api_keys() -> DynamoApiKeys:
    from .storage.dynamo import DynamoApiKeys

    return DynamoApiKeys(table())


@cache
def access() -> Access:
    """API keys -> tenant, and the per-tenant request budget (SWAPFLOW_TENANT_RPS)."""
    from .jobs.access import Access
    from .storage.tenants import DynamoRateLimiter

    return Access(api_keys(), DynamoRateLimiter(table()), rps=get_settings().tenant_rps)


@cache
def tenants() -> DynamoTenants:
    """API keys and webhook signing secrets (`tenant_secret(tenant)`), as the keys CLI writes them."""
    from .storage.tenants import DynamoTenants, KmsSecretCipher

    key = get_settings().webhook_secret_key
    return DynamoTenants(table(), cipher=KmsSecretCipher(client("kms"), key) if key else None)
