"""Shared moto fixtures: fake credentials, and the jobs table shaped as the CDK stack defines it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

FAKE_AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials and region for moto; never real ones, never a developer's profile or endpoint."""
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("SWAPFLOW_TABLE", "SWAPFLOW_AWS_ENDPOINT", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def jobs_table(aws_env: None) -> Iterator[Any]:
    """The jobs table as infra/constructs/storage.py defines it: pk/sk and the `by-tenant` index."""
    import boto3
    from moto import mock_aws
    from swapflow.storage.schema import create_table_request

    with mock_aws():
        yield boto3.resource("dynamodb").create_table(**create_table_request("Swapflow-StorageJobs-TEST"))


@pytest.fixture
def count_requests(jobs_table: Any) -> Callable[[], list[str]]:
    """`count_requests()` starts counting the DynamoDB operations made through the jobs table: the list it
    returns grows by each operation's name as it is made."""

    def start() -> list[str]:
        calls: list[str] = []
        jobs_table.meta.client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
        return calls

    return start
