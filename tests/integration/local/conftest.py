"""Fixtures for the embedded local stack tests: the sample CDK stack deployed into patched moto."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
for _p in (str(ROOT), str(ROOT / "functions")):
    if _p not in sys.path:
        sys.path.insert(0, _p)
from infra.toolchain import use_repo_node  # noqa: E402

use_repo_node()  # the sample stack imports aws_cdk itself: the repo's supported node first

TIME_SCALE = 0.05
REGION = "us-east-1"


def _fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture(scope="session")
def sample_template() -> dict[str, Any]:
    """The sample stack's synthesized template (synthesized once per session)."""
    from tests.integration.local.sample_stack import synth_template

    return synth_template()


@dataclass
class LocalSample:
    template: dict[str, Any]
    deployment: Any
    gateway: Any
    session: Any

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=REGION)

    @property
    def outputs(self) -> dict[str, str]:
        return dict(self.deployment.outputs)


@pytest.fixture(scope="module")
def local_sample(sample_template: dict[str, Any]) -> Iterator[LocalSample]:
    """The sample stack deployed into a fresh, patched moto (one per test module)."""
    import boto3
    from moto import mock_aws

    from infra.local import moto_patches
    from infra.local.deployer import deploy
    from infra.local.gateway import Gateway
    from tests.integration.local import sample_handlers

    saved_env = dict(os.environ)
    mp = pytest.MonkeyPatch()
    _fake_credentials(mp)
    previous_scale = moto_patches.time_scale()
    moto_patches.apply(time_scale=TIME_SCALE)
    mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
    mock.start()
    try:
        session = boto3.session.Session(region_name=REGION)
        deployment = deploy(sample_template, region=REGION, stack_name="Sample", session=session)
        gateway = Gateway(sample_template, deployment, lambda_client=session.client("lambda"))
        sample_handlers.reset()
        yield LocalSample(sample_template, deployment, gateway, session)
        moto_patches.wait_async_idle(10)
    finally:
        mock.stop()
        moto_patches.apply(time_scale=previous_scale)
        mp.undo()
        os.environ.clear()
        os.environ.update(saved_env)
