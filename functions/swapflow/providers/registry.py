"""Provider names and how each is built from settings. Adding a provider is one line in BUILDERS."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..settings import Settings
from .base import Provider, ReplayGuard
from .exceptions import ProviderUnavailableError

PROVIDER_NAMES = ("engine", "akool", "wavespeed-akool", "wavespeed-pro")


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


def _engine(settings: Settings, clients: Clients) -> Provider:
    if not settings.engine_function:
        raise ProviderUnavailableError("engine", "SWAPFLOW_ENGINE_FUNCTION")
    from .engine import EngineProvider

    return EngineProvider(clients.lambda_client(), settings.engine_function)


def _credentials(settings: Settings, clients: Clients, family: str) -> dict[str, str]:
    """Environment first (local runs), then the provider's Secrets Manager secret (AWS)."""
    prefix = f"{family}_"
    values = {
        name[len(prefix) :]: str(getattr(settings, name))
        for name in settings.__dataclass_fields__
        if name.startswith(prefix) and getattr(settings, name)
    }
    arn = values.pop("secret_arn", "")
    if arn and not values.get("api_key"):
        values.update({k: v for k, v in clients.secrets(arn).items() if v})
    return values


def _akool(settings: Settings, clients: Clients) -> Provider:
    creds = _credentials(settings, clients, "akool")
    if not creds.get("api_key"):
        raise ProviderUnavailableError("akool", "SWAPFLOW_AKOOL_API_KEY")
    from .akool import AkoolProvider

    return AkoolProvider(  # type: ignore[no-any-return]
        settings.akool_base_url,
        creds["api_key"],
        client_id=creds.get("client_id") or None,
        client_secret=creds.get("client_secret") or None,
        replay_guard=clients.replay_guard("akool"),
    )


def _wavespeed(model: str) -> Callable[[Settings, Clients], Provider]:
    def build(settings: Settings, clients: Clients) -> Provider:
        creds = _credentials(settings, clients, "wavespeed")
        if not creds.get("api_key"):
            raise ProviderUnavailableError(model, "SWAPFLOW_WAVESPEED_API_KEY")
        from .wavespeed import WaveSpeedProvider

        return WaveSpeedProvider(  # type: ignore[no-any-return]
            model,
            settings.wavespeed_base_url,
            creds["api_key"],
            webhook_secret=creds.get("webhook_secret") or None,
            replay_guard=clients.replay_guard("wavespeed"),
        )

    return build


BUILDERS: dict[str, Callable[[Settings, Clients], Provider]] = {
    "engine": _engine,
    "akool": _akool,
    "wavespeed-akool": _wavespeed("wavespeed-akool"),
    "wavespeed-pro": _wavespeed("wavespeed-pro"),
}


class ProviderRegistry:
    """Builds each provider on first use and again once `max_age_seconds` old, so credentials read from a
    rotated secret reach the provider (the secret reads are cached for the same time); `wrap` decorates
    each built provider (tracing and metrics, see observability.ObservedProvider)."""

    def __init__(
        self,
        settings: Settings,
        clients: Clients,
        *,
        max_age_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        wrap: Callable[[Provider], Provider] = lambda provider: provider,
    ) -> None:
        self.settings = settings
        self.clients = clients
        self.max_age_seconds = max_age_seconds
        self.clock = clock
        self.wrap = wrap
        self._built: dict[str, tuple[float, Provider]] = {}

    def __call__(self, name: str) -> Provider:
        now = self.clock()
        built = self._built.get(name)
        if built is None or now - built[0] >= self.max_age_seconds:
            built = (now, self.wrap(BUILDERS[name](self.settings, self.clients)))
            self._built[name] = built
        return built[1]
