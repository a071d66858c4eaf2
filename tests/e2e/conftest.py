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


def machine_env() -> dict[str, str]:
    """This environment as a fresh machine has it: the repo's node taken off PATH, only the machine's
    (Node 20 here) left; the synthesis must bring its supported node itself (infra/toolchain.py)."""
    from infra.toolchain import NODE_BIN

    env = {k: v for k, v in os.environ.items() if k != "JSII_NODE"}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != str(NODE_BIN))
    return env


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """`python -m infra.local template` once per session: (template path, what it printed on stderr)."""
    path = tmp_path_factory.mktemp("cdk") / "template.json"
    done = subprocess.run(
        [sys.executable, "-m", "infra.local", "template", "--out", str(path)],
        cwd=ROOT,
        check=True,
        env=machine_env(),
        capture_output=True,
        text=True,
    )
    return str(path), done.stderr


@pytest.fixture(scope="session")
def template_path(synthesis: tuple[str, str]) -> str:
    """Every stack started here deploys the template synthesised once."""
    return synthesis[0]


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
