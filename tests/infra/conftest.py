from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def synthesized() -> tuple[Any, dict[str, Any]]:
    """The real app, cdk-nag AwsSolutions checks on: synth raises on any unacknowledged finding."""
    from aws_cdk.assertions import Template

    from infra.app import build_app

    _app, stack = build_app({"aws:cdk:bundling-stacks": []})
    template = Template.from_stack(stack)
    return template, template.to_json()
