"""The local stack as a user runs it: `python -m infra.local up` in its own process, real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from e2e_stack import ROOT, RunningStack, running_stack  # noqa: E402


@pytest.fixture(scope="session")
def template_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Synthesise the CDK app once per session; every stack started here deploys that template."""
    path = tmp_path_factory.mktemp("cdk") / "template.json"
    subprocess.run(
        [sys.executable, "-m", "infra.local", "template", "--out", str(path)],
        cwd=ROOT,
        check=True,
        env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1"},
        capture_output=True,
    )
    return str(path)


@pytest.fixture(scope="session")
def stack(template_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    # A first poll far beyond the engine's time: a job that polls here lost its callback (a bug).
    with running_stack(
        template_path, tmp_path_factory.mktemp("stack") / "up.log", SWAPFLOW_POLL_INITIAL_SECONDS="6"
    ) as running:
        yield running


@pytest.fixture(scope="session")
def polling_stack(template_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack whose engine records results without waking the workflow: only polling finds them."""
    with running_stack(
        template_path,
        tmp_path_factory.mktemp("polling") / "up.log",
        SWAPFLOW_ENGINE_CALLBACK="0",
        SWAPFLOW_TIME_SCALE="0.25",
    ) as running:
        yield running


@pytest.fixture(scope="session")
def slow_stack(template_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack whose engine waits 3 s before swapping (SWAPFLOW_ENGINE_DELAY_SECONDS, test only): jobs stay
    open long enough to cancel them or to outlast a sync wait. No request limit, so fuzzing is not throttled."""
    with running_stack(
        template_path,
        tmp_path_factory.mktemp("slow") / "up.log",
        SWAPFLOW_ENGINE_DELAY_SECONDS="3",
        SWAPFLOW_TENANT_RPS="0",
    ) as running:
        yield running


@pytest.fixture(scope="session")
def throttled_stack(template_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack that allows each tenant 3 requests per second (SWAPFLOW_TENANT_RPS)."""
    with running_stack(
        template_path, tmp_path_factory.mktemp("throttled") / "up.log", SWAPFLOW_TENANT_RPS="3"
    ) as running:
        yield running
