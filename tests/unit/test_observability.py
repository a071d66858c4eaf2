"""Metrics by provider, provider calls traced and counted, a tracer that costs nothing until Lambda uses it,
and providers rebuilt once their credentials may have rotated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from swapflow.observability import ObservedProvider, provider_metric, tracing_enabled
from swapflow.providers.base import ProviderResult, ProviderState
from swapflow.providers.exceptions import ProviderBusyError
from swapflow.providers.registry import Clients, ProviderRegistry
from swapflow.settings import Settings

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def emitted(out: str) -> list[tuple[str, dict[str, str], float]]:
    """(metric name, dimensions, value) of every CloudWatch EMF document printed."""
    found = []
    for line in out.splitlines():
        doc = json.loads(line) if line.startswith("{") else {}
        for directive in doc.get("_aws", {}).get("CloudWatchMetrics", []):
            dims = {d: doc[d] for d in directive["Dimensions"][0]}
            found += [(m["Name"], dims, doc[m["Name"]]) for m in directive["Metrics"]]
    return found


def test_given_a_provider_metric_when_emitted_then_it_carries_the_provider_dimension(capsys) -> None:
    provider_metric("JobsCompleted", "wavespeed-pro")
    assert emitted(capsys.readouterr().out) == [
        ("JobsCompleted", {"service": "swapflow", "provider": "wavespeed-pro"}, [1.0])
    ]


class Busy:
    name = "akool"

    def __init__(self) -> None:
        self.polls = 0

    def poll(self, provider_job_id: str) -> ProviderResult:
        self.polls += 1
        if self.polls == 1:
            raise ProviderBusyError("akool", retry_after=2)
        return ProviderResult(ProviderState.RUNNING)


def test_given_a_provider_that_fails_once_when_polled_twice_then_two_calls_and_one_error_are_counted(capsys) -> None:
    provider = ObservedProvider(Busy())  # type: ignore[arg-type]
    with pytest.raises(ProviderBusyError):
        provider.poll("p1")
    assert provider.poll("p1").state is ProviderState.RUNNING
    counted = [(name, dims["provider"]) for name, dims, _ in emitted(capsys.readouterr().out)]
    assert counted == [("ProviderCalls", "akool"), ("ProviderErrors", "akool"), ("ProviderCalls", "akool")]


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "SWAPFLOW_LOCAL": "1"}, False),
    ],
)
def test_given_an_environment_when_asked_then_tracing_is_on_only_in_lambda(env, enabled) -> None:
    assert tracing_enabled(env) is enabled


def test_given_lambda_when_a_handler_module_is_imported_then_the_xray_sdk_is_not_loaded_until_first_use() -> None:
    code = (
        "import sys, swapflow.handlers.run_job as h; "
        "print(any(m.startswith('aws_xray_sdk') for m in sys.modules)); "
        "h.tracer.tracer; print(any(m.startswith('aws_xray_sdk') for m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(FUNCTIONS), "LAMBDA_TASK_ROOT": "/var/task", "AWS_DEFAULT_REGION": "x"}
    env.pop("SWAPFLOW_LOCAL", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]


def test_given_a_rotated_secret_when_the_provider_is_older_than_the_max_age_then_it_is_rebuilt_with_the_new_key() -> (
    None
):
    secret, reads, now = {"api_key": "key-1"}, [], [0.0]

    def read(arn: str) -> dict[str, str]:
        reads.append(secret["api_key"])
        return dict(secret)

    settings = Settings.from_env({"SWAPFLOW_WAVESPEED_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:ws"})
    registry = ProviderRegistry(settings, Clients(lambda: None, read), max_age_seconds=300, clock=lambda: now[0])
    first = registry("wavespeed-pro")
    secret["api_key"] = "key-2"
    now[0] = 299.0
    assert registry("wavespeed-pro") is first  # within the max age: the same provider, no secret read
    now[0] = 300.0
    assert registry("wavespeed-pro") is not first
    assert reads == ["key-1", "key-2"]  # the rebuilt provider was made with the rotated key
