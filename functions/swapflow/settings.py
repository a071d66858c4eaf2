"""Runtime settings: one object, read from the environment once per cold start.

Each setting is defined once, as a field of `Settings`: its name gives the variable (`table` is
SWAPFLOW_TABLE, see `env_name`), its annotation the type the text is parsed as, `setting(...)` its
default and its doc. A provider family's variables (base URL, credentials, secret) are declared by its
record instead (providers/spec.py) and held in `provider_variables`. `settings_table()` lists both for
the README configuration table, which tests/unit/test_settings.py keeps equal. A missing required
setting fails loudly with its variable.
Names are the ones the CDK stack sets (infra/constructs) and the local runner sets (infra/local).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

ENV_PREFIX = "SWAPFLOW_"
PROVIDER_VARIABLES = "provider_variables"  # the field holding the variables providers declare


def env_name(name: str) -> str:
    """The environment variable of the setting `name` (a Settings field)."""
    return ENV_PREFIX + name.upper()


class SettingMissingError(RuntimeError):
    def __init__(self, name: str) -> None:
        super().__init__(f"required setting {name} is not set")
        self.name = name


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _number(kind: Callable[[str], Any], what: str) -> Callable[[str, str], Any]:
    def parse(name: str, raw: str) -> Any:
        try:
            return kind(raw)
        except ValueError as exc:
            raise ValueError(f"{name} must be {what}, got {raw!r}") from exc

    return parse


def _names(name: str, raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


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


# How the text of a variable becomes the field's value, by the field's annotation.
PARSERS: dict[str, Callable[[str, str], Any]] = {
    "str": lambda name, raw: raw,
    "int": _number(int, "an integer"),
    "float": _number(float, "a number"),
    "bool": lambda name, raw: _flag(raw),
    "tuple[str, ...]": _names,
    "tuple[int, ...]": _seconds_list,
    "tuple[tuple[str, float], ...]": _pairs,
}


def setting(default: Any, doc: str, *, parse: Callable[[Any], Any] | None = None) -> Any:
    """A Settings field: its default (unset or empty variable), what it is for, and a fix-up applied to
    the parsed value (e.g. a trailing `/` dropped)."""
    return field(default=default, metadata={"doc": doc, "parse": parse})


def computed(factory: Callable[[], Any], doc: str) -> Any:
    """A setting whose default is computed on first use (from the provider registry: no import cycle)."""
    return field(default_factory=factory, metadata={"doc": doc, "parse": None})


def _default_auto_chain() -> tuple[str, ...]:
    from .providers.registry import default_auto_chain

    return default_auto_chain()


def _default_concurrency() -> tuple[tuple[str, float], ...]:
    from .providers.registry import default_concurrency

    return default_concurrency()


def _default_rate_per_minute() -> tuple[tuple[str, float], ...]:
    from .providers.registry import default_rate_per_minute

    return default_rate_per_minute()


def _provider_variables() -> dict[str, Setting]:
    from .providers.registry import provider_variables

    return provider_variables()


def _url(value: str) -> str:
    return value.rstrip("/")


def default_signing_dir(env: Mapping[str, str]) -> str:
    """Where the local stack keeps its C2PA signing key: SWAPFLOW_SIGNING_DIR, else `signing/` in its data
    directory (SWAPFLOW_DATA_DIR, default `.swapflow`), so the key lives and goes with the stack's data."""
    return env.get("SWAPFLOW_SIGNING_DIR") or os.path.join(env.get("SWAPFLOW_DATA_DIR") or ".swapflow", "signing")


@dataclass(frozen=True)
class Settings:
    # --- set by the stack (infra/stack.py, infra/local) --------------------------------------------------
    table: str = setting("", "the DynamoDB table (jobs, batches, tenants, idempotency, leases, audit)")
    input_bucket: str = setting("", "the S3 bucket of inputs, uploads and manifests")
    archive_bucket: str = setting("", "the S3 bucket of outputs")
    event_bus: str = setting("swapflow", "the EventBridge bus of job events")
    state_machine_arn: str = setting("", "the job workflow")
    engine_function: str = setting("", "the engine Lambda the `engine` provider invokes")
    public_url_param: str = setting("", "the SSM parameter holding the API's URL (AWS)")
    local: bool = setting(False, "the local stack: http and loopback URLs allowed, presigned URLs local")
    aws_endpoint: str = setting("", "the local AWS endpoint presigned URLs point at")
    webhook_state_machine_arn: str = setting("", "the client-webhook delivery retry machine")
    webhook_secret_key: str = setting("", "the KMS key (ARN or alias) sealing tenants' webhook signing secrets")
    batch_state_machine_arn: str = setting("", "the batch runner")
    manifest_state_machine_arn: str = setting("", "the JSONL manifest runner (jobs/jsonl.py)")
    ingest_dlq_url: str = setting("", "the dead-letter queue of refused `Swap Requested` events")
    signing_secret_arn: str = setting("", "the C2PA signing key's Secrets Manager secret (AWS)")
    eraser_function: str = setting("", "the eraser Lambda deletions on request are handed to")
    # --- the operator's --------------------------------------------------------------------------------
    public_url: str = setting("", "base URL providers call back (env wins, else the SSM parameter)", parse=_url)
    default_provider: str = setting("engine", "provider when a request names none")
    auto_providers: tuple[str, ...] = computed(_default_auto_chain, "the `auto` fallback chain")
    compat_provider: str = setting(
        "", "provider (or `model=provider,...` pairs, `*` for the rest) of the drop-in surfaces; empty: the default"
    )
    # API Gateway cuts integrations at 29 s.
    compat_sync_wait_seconds: int = setting(
        25, "sync-mode wait on the WaveSpeed surface (capped at 27)", parse=lambda v: min(v, 27)
    )
    engine_callback: bool = setting(True, "`0`: the engine records results without waking the workflow")
    job_deadline_seconds: int = setting(900, "a job fails with `provider_timeout` past this")
    poll_initial_seconds: int = setting(2, "first poll interval")
    callback_wait_seconds: int = setting(30, "how long a job waits for its provider's callback before it polls")
    poll_max_seconds: int = setting(30, "longest poll interval")
    max_image_bytes: int = setting(20 * 1024 * 1024, "input cap in bytes")
    max_image_pixels: int = setting(40_000_000, "input cap in pixels")
    presign_seconds: int = setting(7 * 24 * 3600, "lifetime of presigned output URLs")
    job_ttl_days: int = setting(30, "days a job record is kept (the tenant's retention may say less)")
    tenant_rps: int = setting(20, "requests per second per tenant on `/v1` (`0`: no limit)")
    time_scale: float = setting(1.0, "local stack only: shrinks waits, timeouts and provider rate windows")
    engine_delay_seconds: float = setting(0.0, "tests only: the engine sleeps this long before swapping")
    webhook_timeout_seconds: int = setting(10, "time allowed per client-webhook attempt")
    webhook_retry_schedule: tuple[int, ...] = setting(
        (), "tests only: the client-webhook retry schedule in seconds (default: the real one)"
    )
    trigger_tenant: str = setting("default", "tenant of jobs from S3 manifests and Swap Requested events")
    max_batch_jobs: int = setting(1000, "jobs per batch or manifest")
    provider_concurrency: tuple[tuple[str, float], ...] = computed(
        _default_concurrency, "jobs of a provider running at once (all paths; `*`: the rest)"
    )
    provider_rate_per_minute: tuple[tuple[str, float], ...] = computed(
        _default_rate_per_minute, "jobs of a provider started per minute (all paths; `0`: no limit)"
    )
    signing_dir: str = setting(".swapflow/signing", "local stack only: where the C2PA signing key lives")
    secret_max_age_seconds: int = setting(300, "provider secrets are re-read (and providers rebuilt) this often")
    # The variables each provider declares in its record (SWAPFLOW_<FAMILY>_BASE_URL, _<CREDENTIAL>,
    # _SECRET_ARN; providers/spec.py), as set: (variable, value) pairs. Read them with `provider_value`.
    provider_variables: tuple[tuple[str, str], ...] = field(default=(), metadata={"doc": "", "parse": None})

    def provider_value(self, family: str, key: str, default: str = "") -> str:
        """A provider family's variable (`akool`, `api_key` -> SWAPFLOW_AKOOL_API_KEY), else `default`."""
        name = env_name(f"{family}_{key}")
        return next((value for variable, value in self.provider_variables if variable == name), default)

    def require(self, name: str) -> str:
        value = getattr(self, name)
        if not value:
            raise SettingMissingError(env_name(name))
        return str(value)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == PROVIDER_VARIABLES:
                continue
            name = env_name(f.name)
            raw = e.get(name, "")
            if not raw:
                continue  # the default
            value = PARSERS[str(f.type)](name, raw)
            fix = f.metadata["parse"]
            values[f.name] = fix(value) if fix else value
        if not values.get("local"):
            values.pop("time_scale", None)  # waits are shrunk on the local stack only
        values["signing_dir"] = default_signing_dir(e)
        values[PROVIDER_VARIABLES] = tuple((name, e[name]) for name in _provider_variables() if e.get(name))
        return cls(**values)


@dataclass(frozen=True)
class Setting:
    """One variable as documented: the README configuration table lists every one."""

    name: str
    env: str
    default: Any
    doc: str

    @property
    def default_text(self) -> str:
        """The default as the variable would spell it (what `from_env` parses back to the default)."""
        return _spelled(self.default)


def _spelled(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(f"{v[0]}={_spelled(v[1])}" if isinstance(v, tuple) else _spelled(v) for v in value)
    return str(value)


def settings_table() -> tuple[Setting, ...]:
    """Every variable: the Settings fields, then those the providers declare."""
    defaults = Settings()
    own = tuple(
        Setting(f.name, env_name(f.name), getattr(defaults, f.name), f.metadata["doc"])
        for f in fields(Settings)
        if f.name != PROVIDER_VARIABLES
    )
    return own + tuple(_provider_variables().values())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
