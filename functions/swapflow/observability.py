"""Logger, metrics and tracer shared by every handler (one place to configure powertools).

- `metrics`: the handler's own counts (flushed by `@metrics.log_metrics`); `provider_metric` emits a
  metric with a `provider` dimension on its own, so one invocation can count for several providers.
- `tracer`: powertools' Tracer, built at the first traced call in Lambda: building it imports the X-Ray
  SDK (~150-300 ms), which a handler's cold import must not pay; outside Lambda (tests, the local stack)
  tracing is off and the decorators hand back the function itself.
- `ObservedProvider`: every provider call as an X-Ray subsegment and in ProviderCalls / ProviderErrors.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

    from .providers.base import Provider, ProviderResult, Submission, SwapRequest, WebhookNotice

# A handler that had nothing to count this time is normal, not worth a warning per invoke.
warnings.filterwarnings("ignore", message="No application metrics to publish")

SERVICE = "swapflow"
NAMESPACE = "Swapflow"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

F = TypeVar("F", bound=Callable[..., Any])


def provider_metric(name: str, provider: str, value: float = 1.0, unit: MetricUnit = MetricUnit.Count) -> None:
    """One metric with dimensions {service, provider}, written at once (the dashboard and alarms read these)."""
    with single_metric(
        name=name, unit=unit, value=value, namespace=NAMESPACE, default_dimensions={"service": SERVICE}
    ) as metric:
        metric.add_dimension(name="provider", value=provider)


def tracing_enabled(env: Mapping[str, str] = os.environ) -> bool:
    """Only in Lambda (LAMBDA_TASK_ROOT), unless POWERTOOLS_TRACE_DISABLED; never on the local stack."""
    disabled = env.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {"1", "true", "yes", "on"}
    return bool(env.get("LAMBDA_TASK_ROOT")) and not disabled and not env.get("SWAPFLOW_LOCAL")


class LazyTracer:
    """`capture_lambda_handler` / `capture_method` of powertools' Tracer, which it builds on first use."""

    def __init__(self) -> None:
        self._tracer: Tracer | None = None

    @property
    def tracer(self) -> Tracer:
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            # Only AWS SDK calls are patched; provider HTTP calls are traced by ObservedProvider.
            self._tracer = Tracer(service=SERVICE, patch_modules=("botocore",))
        return self._tracer

    def _wrap(self, fn: F, how: str) -> F:
        if not tracing_enabled():
            return fn
        traced: Callable[..., Any] | None = None

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            nonlocal traced
            if traced is None:
                # Responses stay out of traces: they carry presigned URLs and client metadata.
                traced = getattr(self.tracer, how)(fn, capture_response=False)
            return traced(*args, **kwargs)

        return call  # type: ignore[return-value]

    def annotate(self, key: str, value: str) -> None:
        """An X-Ray annotation (searchable) on the current subsegment; nothing when tracing is off."""
        if tracing_enabled():
            self.tracer.put_annotation(key=key, value=value)

    def capture_lambda_handler(self, handler: F) -> F:
        return self._wrap(handler, "capture_lambda_handler")

    def capture_method(self, method: F) -> F:
        return self._wrap(method, "capture_method")


tracer = LazyTracer()


class ObservedProvider:
    """A provider whose submit/poll/cancel calls are traced and counted by provider (errors: any raise)."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.name = inner.name

    def _observed(self, call: Callable[[], Any]) -> Any:
        tracer.annotate("provider", self.name)
        provider_metric("ProviderCalls", self.name)
        try:
            return call()
        except Exception:  # busy (429/5xx), refused, unreachable: each counts against the provider
            provider_metric("ProviderErrors", self.name)
            raise

    @tracer.capture_method
    def submit(self, request: SwapRequest) -> Submission:
        return self._observed(lambda: self.inner.submit(request))

    @tracer.capture_method
    def poll(self, provider_job_id: str) -> ProviderResult:
        return self._observed(lambda: self.inner.poll(provider_job_id))

    @tracer.capture_method
    def cancel(self, provider_job_id: str) -> bool:
        return bool(self._observed(lambda: self.inner.cancel(provider_job_id)))

    @tracer.capture_method
    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookNotice:
        return self.inner.parse_webhook(headers, body)  # a forged callback is not a provider error

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # provider-specific extras (e.g. Akool's detect_faces)
