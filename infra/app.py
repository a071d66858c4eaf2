"""`cdk synth` / `cdk deploy` entry point, with cdk-nag AwsSolutions checks on the whole app."""

from __future__ import annotations

import json
import os
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from .stack import SwapflowStack

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def project_context() -> dict[str, object]:
    """cdk.json's context (feature flags): the CLI passes it to `cdk synth`; tests and the local stack build
    the app themselves, and get the same flags from here, so they see the template that is deployed."""
    return dict(json.loads(CDK_JSON.read_text()).get("context", {}))


def build_app(context: dict[str, object] | None = None) -> tuple[cdk.App, SwapflowStack]:
    app = cdk.App(context={**project_context(), **(context or {})})
    stack = SwapflowStack(
        app,
        os.environ.get("SWAPFLOW_STACK_NAME", "Swapflow"),
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
