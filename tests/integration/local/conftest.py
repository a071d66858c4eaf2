"""Fixtures for the embedded local stack tests: the sample CDK stack deployed into the embedded AWS."""

from __future__ import annotations

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
    aws: Any

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=REGION)

    @property
    def outputs(self) -> dict[str, str]:
        return dict(self.deployment.outputs)


@pytest.fixture(scope="module")
def local_sample(sample_template: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSample]:
    """The sample stack deployed into a fresh embedded AWS (one per test module); its handlers run in the
    local Lambda runtime and record what they saw under a fresh records directory."""
    import boto3

    from infra.local.deployer import deploy
    from infra.local.gateway import Gateway
    from tests.integration.local.helpers import embedded_aws

    with embedded_aws(tmp_path_factory.mktemp("records"), time_scale=TIME_SCALE) as aws:
        session = boto3.session.Session(region_name=REGION)
        deployment = deploy(sample_template, region=REGION, stack_name="Sample", session=session)
        aws.use_deployment(deployment)
        gateway = Gateway(sample_template, deployment, lambda_client=session.client("lambda"))
        yield LocalSample(sample_template, deployment, gateway, session, aws)
