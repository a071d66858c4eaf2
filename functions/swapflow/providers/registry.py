"""The provider registry: every provider is declared once, by its own module of this package.

A module that defines `PROVIDERS` (a tuple of `spec.ProviderSpec`) adds those providers; adding a
provider is adding one module (tests/unit/providers/test_registry.py checks that nothing else lists
them). Everything that differs between providers reads its spec here: the names the API accepts, the
requests each can serve (refused at submit, DESIGN 3), the `auto` chain, webhook routes, default limits.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from ..faces import SwapOptions
from ..settings import Setting, Settings
from .base import Provider
from .spec import Clients, ProviderSpec, Refusal

__all__ = ["AUTO", "PROVIDER_NAMES", "SPECS", "Clients", "ProviderRegistry", "Refusal", "refusal"]

# Not a provider: a job on `auto` runs on the first provider of settings.auto_providers that takes it.
AUTO = "auto"


def discover(package: ModuleType) -> dict[str, ProviderSpec]:
    """The specs declared by the modules of `package` (modules named `_*` are helpers), by name."""
    specs: dict[str, ProviderSpec] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for spec in getattr(module, "PROVIDERS", ()):
            if spec.name in specs or spec.name == AUTO:
                raise ValueError(f"provider {spec.name!r} is declared twice (again in {module.__name__})")
            specs[spec.name] = spec
    return specs


def _package() -> ModuleType:
    return importlib.import_module(__package__ or "swapflow.providers")


SPECS: dict[str, ProviderSpec] = discover(_package())
PROVIDER_NAMES: tuple[str, ...] = tuple(SPECS)


def family_of(provider: str) -> str | None:
    """The webhook route family of a provider name; None for `auto` and unknown names."""
    spec = SPECS.get(provider)
    return spec.family if spec else None


def webhook_verifier(family: str) -> str | None:
    """The provider that verifies callbacks on /webhooks/<family>; None: no such route."""
    return next((s.name for s in SPECS.values() if s.family == family and s.verifies_webhooks), None)


def internal_callback(provider: str) -> bool:
    spec = SPECS.get(provider)
    return bool(spec and spec.internal_callback)


def default_auto_chain() -> tuple[str, ...]:
    return tuple(s.name for s in sorted(SPECS.values(), key=lambda s: s.fallback_rank))


def default_concurrency() -> tuple[tuple[str, float], ...]:
    return (*((s.name, s.concurrency) for s in SPECS.values()), ("*", 2.0))


def default_rate_per_minute() -> tuple[tuple[str, float], ...]:
    return tuple((s.name, s.rate_per_minute) for s in SPECS.values() if s.rate_per_minute)


def secret_families() -> tuple[ProviderSpec, ...]:
    """One spec per provider family with credentials: each such family has one secret in AWS."""
    first: dict[str, ProviderSpec] = {}
    for spec in SPECS.values():
        if spec.credentials:
            first.setdefault(spec.family, spec)
    return tuple(first.values())


def provider_variables() -> dict[str, Setting]:
    """The variables the providers declare (a family's are declared once), by name."""
    return {v.env: v for spec in SPECS.values() for v in spec.variables()}


def base_urls(settings: Settings) -> tuple[str, ...]:
    """The services the providers reach (local mode trusts them as the stack's own endpoints)."""
    return tuple(dict.fromkeys(spec.url(settings) for spec in SPECS.values() if spec.base_url))


def refusal(provider: str, request: SwapOptions[Any], *, auto_chain: Iterable[str] = ()) -> Refusal | None:
    """Why `provider` cannot serve `request` (the capability it lacks, and who can), or None. On `auto`:
    a refusal only when no provider of `auto_chain` serves it (the chain skips those at submit)."""
    names = [name for name in auto_chain if name in SPECS] if provider == AUTO else [provider]
    refusals = [SPECS[name].capabilities.refusal(name, request) for name in names if name in SPECS]
    if not refusals or None in refusals:
        return None
    first = refusals[0]
    assert first is not None
    able = ", ".join(serving(request)) or "none"
    if provider == AUTO:
        why = f"no provider of the auto chain ({', '.join(names)}) can serve `{first.field}`; these can: {able}"
        return Refusal(AUTO, first.capability, first.field, why)
    return Refusal(first.provider, first.capability, first.field, f"{first.message}; these can: {able}")


def serving(request: SwapOptions[Any]) -> list[str]:
    """The providers that can serve `request`."""
    return [name for name, spec in SPECS.items() if spec.capabilities.refusal(name, request) is None]


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
            built = (now, self.wrap(SPECS[name].provider(self.settings, self.clients)))
            self._built[name] = built
        return built[1]
