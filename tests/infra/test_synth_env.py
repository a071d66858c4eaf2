"""`cdk deploy` synthesises for a concrete account and region: cdk-nag must stay clean there too."""

from __future__ import annotations

import pytest

from infra.app import build_app


def test_given_a_concrete_account_and_region_when_synthesised_then_no_unacknowledged_finding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "210987654321")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    app, stack = build_app({"aws:cdk:bundling-stacks": []})

    assembly = app.synth()  # raises ValidationFailed on any unacknowledged AwsSolutions finding

    assert stack.region == "eu-west-1"
    assert assembly.get_stack_by_name(stack.stack_name).template["Resources"]
