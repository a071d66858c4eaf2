"""What a provider module declares about itself: one `ProviderSpec` per provider, in its `PROVIDERS`.

The registry (providers/registry.py) collects the specs of every module of this package; nothing else
names providers. A spec says what differs between providers: what the provider can serve (requests it
cannot are refused at submit, DESIGN 3), its webhook route, its credentials, its default limits, and
how it is built from settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..faces import SwapOptions
from ..settings import Setting, Settings, env_name
from .base import Provider, ReplayGuard
from .exceptions import ProviderUnavailableError


class Clients:
    """What builders may need, created lazily (a handler that never builds a provider pays nothing)."""

    def __init__(
        self,
        lambda_client: Callable[[], Any],
        secrets: Callable[[str], dict[str, str]],
        replay_guard: Callable[[str], ReplayGuard | None] | None = None,
    ) -> None:
        self.lambda_client = lambda_client
        self.secrets = secrets
        self.replay_guard = replay_guard or (lambda provider: None)


@dataclass(frozen=True)
class Refusal:
    """Why a provider cannot serve a request: the capability it lacks and the request field asking it."""

    provider: str
    capability: str
    field: str
    message: str


@dataclass(frozen=True)
class Capabilities:
    """What a provider can serve beyond one source face onto the target's main face."""

    # Most entries of `faces` (several faces of the target swapped in one job); 0: `faces` is refused.
    faces: int = 0
    # Swaps the target's face chosen by `target_index` (faces numbered left to right).
    target_index: bool = False

    def refusal(self, provider: str, request: SwapOptions[Any]) -> Refusal | None:
        if request.faces and len(request.faces) > self.faces:
            if not self.faces:
                why = f"provider {provider} swaps one face per job: it cannot serve `faces`"
            else:
                why = f"provider {provider} swaps at most {self.faces} faces per job, {len(request.faces)} asked"
            return Refusal(provider, "faces", "faces", why)
        if request.target_index is not None and not self.target_index:
            why = f"provider {provider} swaps the target's main face only: it cannot serve `target_index`"
            return Refusal(provider, "target_index", "target_index", why)
        return None


@dataclass(frozen=True)
class ProviderSpec:
    """One provider, as everything outside its module sees it."""

    name: str
    # Builds the provider from settings (raises ProviderUnavailableError naming a missing variable).
    build: Callable[[ProviderSpec, Settings, Clients], Provider]
    capabilities: Capabilities
    # The webhook route (/webhooks/<family>) and the credentials' prefix (SWAPFLOW_<FAMILY>_<KEY>);
    # unset: the provider's name (a family of one).
    family: str = ""
    # Credential keys read from SWAPFLOW_<FAMILY>_<KEY> or the family's secret; the first is required.
    credentials: tuple[str, ...] = ()
    # The service's URL (SWAPFLOW_<FAMILY>_BASE_URL overrides it: a simulator, a compatible server).
    base_url: str = ""
    # Who the family is in docs ("Akool", "WaveSpeed").
    title: str = ""
    # This provider checks the signatures of callbacks on /webhooks/<family> (one per family).
    verifies_webhooks: bool = False
    # Completes jobs through our internal callback (the engine), not a public webhook URL.
    internal_callback: bool = False
    # A generative model (C2PA digitalSourceType trainedAlgorithmicMedia); False: a classical composite.
    trained: bool = True
    # Default limits (SWAPFLOW_PROVIDER_CONCURRENCY, SWAPFLOW_PROVIDER_RATE_PER_MINUTE; 0: no rate limit).
    concurrency: float = 2.0
    rate_per_minute: float = 0.0
    # Place in the default `auto` chain (SWAPFLOW_AUTO_PROVIDERS), lowest first.
    fallback_rank: int = 50

    def __post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", self.name)

    def provider(self, settings: Settings, clients: Clients) -> Provider:
        return self.build(self, settings, clients)

    def url(self, settings: Settings) -> str:
        """The service's base URL: SWAPFLOW_<FAMILY>_BASE_URL, else the spec's."""
        return settings.provider_value(self.family, "base_url", self.base_url).rstrip("/")

    def variables(self) -> tuple[Setting, ...]:
        """The variables this provider reads: its base URL, each credential, the family's secret (AWS)."""
        if not self.credentials:
            return ()
        who = self.title or self.family
        docs = [("base_url", self.base_url, f"any {who}-compatible server")]
        docs += [(key, "", f"{who} {key} (locally; in AWS in the {who} secret)") for key in self.credentials]
        docs.append(("secret_arn", "", f"the {who} credentials' Secrets Manager secret (AWS; set by the stack)"))
        return tuple(
            Setting(f"{self.family}_{key}", env_name(f"{self.family}_{key}"), default, doc)
            for key, default, doc in docs
        )


def credentials(settings: Settings, clients: Clients, spec: ProviderSpec) -> dict[str, str]:
    """The spec's credentials: environment first (local runs), then the family's Secrets Manager secret
    (AWS); ProviderUnavailableError naming the variable when the required (first) one is missing."""
    values = {key: settings.provider_value(spec.family, key) for key in spec.credentials}
    values = {key: value for key, value in values.items() if value}
    required = spec.credentials[0]
    arn = settings.provider_value(spec.family, "secret_arn")
    if arn and not values.get(required):
        values.update({k: v for k, v in clients.secrets(arn).items() if v})
    if not values.get(required):
        raise ProviderUnavailableError(spec.name, env_name(f"{spec.family}_{required}"))
    return values
