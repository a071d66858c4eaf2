"""Runtime settings: one object, read from the environment once per cold start.

A missing required setting fails loudly with its name. Names are the ones the CDK stack sets
(infra/constructs) and the local runner sets (infra/local/runner.py); DESIGN 3 lists the user-facing ones.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache


class SettingMissingError(RuntimeError):
    def __init__(self, name: str) -> None:
        super().__init__(f"required setting {name} is not set")
        self.name = name


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _seconds_list(name: str, raw: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(f"{name} must be comma-separated whole seconds, got {raw!r}") from exc


def _pairs(name: str, raw: str) -> tuple[tuple[str, float], ...]:
    """`engine=16,wavespeed-pro=2,*=2` -> (("engine", 16.0), ...)."""
    pairs = []
    for part in raw.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError(part)
            pairs.append((key.strip(), float(value)))
        except ValueError as exc:
            raise ValueError(f"{name} must be provider=number pairs separated by commas, got {raw!r}") from exc
    return tuple(pairs)


def default_signing_dir(env: Mapping[str, str]) -> str:
    """Where the local stack keeps its C2PA signing key: SWAPFLOW_SIGNING_DIR, else `signing/` in its data
    directory (SWAPFLOW_DATA_DIR, default `.swapflow`), so the key lives and goes with the stack's data."""
    return env.get("SWAPFLOW_SIGNING_DIR") or os.path.join(env.get("SWAPFLOW_DATA_DIR") or ".swapflow", "signing")


DEFAULT_PROVIDER_CONCURRENCY = (
    ("engine", 16.0),
    ("akool", 5.0),
    ("wavespeed-pro", 2.0),
    ("wavespeed-akool", 2.0),
    ("*", 2.0),
)
DEFAULT_PROVIDER_RATE_PER_MINUTE = (("wavespeed-pro", 2.0), ("wavespeed-akool", 2.0))


@dataclass(frozen=True)
class Settings:
    table_name: str = ""
    input_bucket: str = ""
    archive_bucket: str = ""
    event_bus: str = "swapflow"
    state_machine_arn: str = ""
    engine_function: str = ""
    # Base URL providers call back (our API); env wins, else the SSM parameter the stack writes.
    public_url: str = ""
    public_url_param: str = ""
    # Local mode: http and loopback URLs allowed, presigned URLs point at the local AWS endpoint.
    local: bool = False
    aws_endpoint: str = ""
    default_provider: str = "engine"
    auto_providers: tuple[str, ...] = ("akool", "wavespeed-pro", "wavespeed-akool", "engine")
    # Drop-in surfaces (swapflow.compat): which provider runs their jobs. Empty: default_provider. Either one
    # name for every model, or "model=provider" pairs with an optional "*=provider" fallback.
    compat_provider: str = ""
    # WaveSpeed `enable_sync_mode`: how long a submit waits (API Gateway cuts integrations at 29 s).
    compat_sync_wait_seconds: int = 25
    engine_callback: bool = True
    job_deadline_seconds: int = 900
    poll_initial_seconds: int = 2
    # How long a Run pass waits for a provider that calls back (engine, webhooks) before it polls.
    callback_wait_seconds: int = 30
    poll_max_seconds: int = 30
    max_image_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    presign_seconds: int = 7 * 24 * 3600
    job_ttl_days: int = 30
    # Requests per second per tenant on the native API (fixed one-second windows; 0 turns it off).
    tenant_rps: int = 20
    # Local stack only (tests): SWAPFLOW_TIME_SCALE shrinks waits; provider rate windows shrink with it.
    time_scale: float = 1.0
    # Test only: the engine sleeps this long before swapping, so tests can cancel a running job.
    engine_delay_seconds: float = 0.0
    # Outgoing client webhooks (swapflow.webhooks): seconds per attempt; the retry schedule is the real one
    # (webhooks.RETRY_SCHEDULE) unless a test shortens it (SWAPFLOW_WEBHOOK_RETRY_SCHEDULE="0,5,300").
    webhook_timeout_seconds: int = 10
    # The KMS key (ARN or alias) that seals tenants' webhook signing secrets (storage/tenants.py).
    webhook_secret_key: str = ""
    webhook_retry_schedule: tuple[int, ...] = ()
    webhook_state_machine_arn: str = ""  # the delivery retry machine (set on the first-attempt function)
    # S3 manifests and `Swap Requested` events (jobs/batches.py, jobs/ingest.py): whose jobs they make.
    trigger_tenant: str = "default"
    batch_state_machine_arn: str = ""
    manifest_state_machine_arn: str = ""  # the JSONL manifest runner (jobs/jsonl.py)
    ingest_dlq_url: str = ""
    max_batch_jobs: int = 1000
    # Batches run under per-provider limits ("provider=n" pairs, "*" for the rest; DESIGN 4: WaveSpeed's
    # lowest tier allows 2 concurrent tasks and 2 tasks a minute). A rate of 0 means no rate limit.
    provider_concurrency: tuple[tuple[str, float], ...] = DEFAULT_PROVIDER_CONCURRENCY
    provider_rate_per_minute: tuple[tuple[str, float], ...] = DEFAULT_PROVIDER_RATE_PER_MINUTE
    # Provider credentials: env locally, Secrets Manager ARNs in AWS (resolved by providers.registry).
    akool_base_url: str = "https://openapi.akool.com"
    akool_api_key: str = ""
    akool_client_id: str = ""
    akool_client_secret: str = ""
    akool_secret_arn: str = ""
    wavespeed_base_url: str = "https://api.wavespeed.ai"
    wavespeed_api_key: str = ""
    wavespeed_webhook_secret: str = ""
    wavespeed_secret_arn: str = ""
    # C2PA signing key (swapflow.provenance.keys): a Secrets Manager secret in AWS, else a local directory.
    signing_secret_arn: str = ""
    signing_dir: str = ".swapflow/signing"
    # The eraser Lambda (handlers/eraser.py): deletions on request are handed to it.
    eraser_function: str = ""
    # Provider secrets are re-read (powertools Parameters cache) and providers rebuilt after this long,
    # so a rotated key is in use within that time.
    secret_max_age_seconds: int = 300

    def require(self, name: str) -> str:
        value = getattr(self, name)
        if not value:
            raise SettingMissingError("SWAPFLOW_" + name.upper())
        return str(value)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)

        def s(name: str, default: str = "") -> str:
            return e.get("SWAPFLOW_" + name, default)

        def i(name: str, default: int) -> int:
            raw = s(name)
            try:
                return int(raw) if raw else default
            except ValueError as exc:
                raise ValueError(f"SWAPFLOW_{name} must be an integer, got {raw!r}") from exc

        return cls(
            table_name=s("TABLE"),
            input_bucket=s("INPUT_BUCKET"),
            archive_bucket=s("ARCHIVE_BUCKET"),
            event_bus=s("EVENT_BUS", "swapflow"),
            state_machine_arn=s("STATE_MACHINE_ARN"),
            engine_function=s("ENGINE_FUNCTION"),
            public_url=s("PUBLIC_URL").rstrip("/"),
            public_url_param=s("PUBLIC_URL_PARAM"),
            local=_flag(s("LOCAL")),
            aws_endpoint=s("AWS_ENDPOINT"),
            default_provider=s("DEFAULT_PROVIDER", "engine"),
            compat_provider=s("COMPAT_PROVIDER"),
            compat_sync_wait_seconds=min(i("COMPAT_SYNC_WAIT_SECONDS", 25), 27),
            auto_providers=tuple(
                p.strip() for p in s("AUTO_PROVIDERS", ",".join(cls.auto_providers)).split(",") if p.strip()
            ),
            engine_callback=_flag(s("ENGINE_CALLBACK"), default=True),
            job_deadline_seconds=i("JOB_DEADLINE_SECONDS", 900),
            poll_initial_seconds=i("POLL_INITIAL_SECONDS", 2),
            callback_wait_seconds=i("CALLBACK_WAIT_SECONDS", 30),
            poll_max_seconds=i("POLL_MAX_SECONDS", 30),
            max_image_bytes=i("MAX_IMAGE_BYTES", 20 * 1024 * 1024),
            max_image_pixels=i("MAX_IMAGE_PIXELS", 40_000_000),
            presign_seconds=i("PRESIGN_SECONDS", 7 * 24 * 3600),
            job_ttl_days=i("JOB_TTL_DAYS", 30),
            tenant_rps=i("TENANT_RPS", 20),
            engine_delay_seconds=float(s("ENGINE_DELAY_SECONDS") or 0),
            time_scale=float(s("TIME_SCALE") or 1) if _flag(s("LOCAL")) else 1.0,
            webhook_timeout_seconds=i("WEBHOOK_TIMEOUT_SECONDS", 10),
            webhook_state_machine_arn=s("WEBHOOK_STATE_MACHINE_ARN"),
            webhook_secret_key=s("WEBHOOK_SECRET_KEY"),
            webhook_retry_schedule=_seconds_list("SWAPFLOW_WEBHOOK_RETRY_SCHEDULE", s("WEBHOOK_RETRY_SCHEDULE")),
            trigger_tenant=s("TRIGGER_TENANT", "default"),
            batch_state_machine_arn=s("BATCH_STATE_MACHINE_ARN"),
            manifest_state_machine_arn=s("MANIFEST_STATE_MACHINE_ARN"),
            ingest_dlq_url=s("INGEST_DLQ_URL"),
            max_batch_jobs=i("MAX_BATCH_JOBS", 1000),
            provider_concurrency=_pairs("SWAPFLOW_PROVIDER_CONCURRENCY", s("PROVIDER_CONCURRENCY"))
            or DEFAULT_PROVIDER_CONCURRENCY,
            provider_rate_per_minute=_pairs("SWAPFLOW_PROVIDER_RATE_PER_MINUTE", s("PROVIDER_RATE_PER_MINUTE"))
            or DEFAULT_PROVIDER_RATE_PER_MINUTE,
            akool_base_url=s("AKOOL_BASE_URL", "https://openapi.akool.com").rstrip("/"),
            akool_api_key=s("AKOOL_API_KEY"),
            akool_client_id=s("AKOOL_CLIENT_ID"),
            akool_client_secret=s("AKOOL_CLIENT_SECRET"),
            akool_secret_arn=s("AKOOL_SECRET_ARN"),
            wavespeed_base_url=s("WAVESPEED_BASE_URL", "https://api.wavespeed.ai").rstrip("/"),
            wavespeed_api_key=s("WAVESPEED_API_KEY"),
            wavespeed_webhook_secret=s("WAVESPEED_WEBHOOK_SECRET"),
            wavespeed_secret_arn=s("WAVESPEED_SECRET_ARN"),
            signing_secret_arn=s("SIGNING_SECRET_ARN"),
            signing_dir=default_signing_dir(e),
            eraser_function=s("ERASER_FUNCTION"),
            secret_max_age_seconds=i("SECRET_MAX_AGE_SECONDS", 300),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
