"""The embedded local stack: the real CDK template deployed into moto, in this process.

`LocalStack.start()` synthesises the CDK app (asset bundling skipped), starts moto with state-machine
execution on, applies the moto patches, deploys the template, seeds the local tenant's API key, and
serves moto's AWS endpoint and the API Gateway adapter on loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_API_KEY = "sf_local_dev_key"
LOCAL_TENANT = "local"
STACK_NAME = "Swapflow"


def synthesize() -> dict[str, Any]:
    """The template CDK synthesises for the stack, with bundling skipped (handlers run from source)."""
    from infra.toolchain import use_repo_node

    use_repo_node()  # jsii's node is the repo's supported one (already so when infra/__init__ ran first)
    from infra.app import build_app

    app, stack = build_app({"aws:cdk:bundling-stacks": []})
    assembly = app.synth()
    template: dict[str, Any] = assembly.get_stack_by_name(stack.stack_name).template
    return template


def load_template(path: str | None) -> dict[str, Any]:
    if path:
        return dict(json.loads(Path(path).read_text()))
    return synthesize()


@dataclass
class LocalConfig:
    port: int = 8000
    aws_port: int = 4566
    host: str = "127.0.0.1"
    api_key: str = DEFAULT_API_KEY
    time_scale: float = 1.0
    template_path: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> LocalConfig:
        return cls(
            port=int(os.environ.get("SWAPFLOW_PORT", "8000")),
            aws_port=int(os.environ.get("SWAPFLOW_AWS_PORT", "4566")),
            api_key=os.environ.get("SWAPFLOW_API_KEY") or DEFAULT_API_KEY,
            time_scale=float(os.environ.get("SWAPFLOW_TIME_SCALE", "1")),
            template_path=os.environ.get("SWAPFLOW_TEMPLATE") or None,
        )


class LocalStack:
    def __init__(self, config: LocalConfig | None = None) -> None:
        self.config = config or LocalConfig.from_env()
        self.api_url = ""
        self.aws_url = ""
        self.deployment: Any = None
        self.webhook_secret = ""  # the local tenant's whsec_ secret: client webhooks are signed with it
        self._mock: Any = None
        self._servers: list[Any] = []

    def start(self) -> LocalStack:
        template = load_template(self.config.template_path)
        _fake_credentials()
        # moto keeps each S3 object in a spooled buffer of ~5 MB before spilling to disk: every image
        # would stay in memory. Spill anything over 16 KB, so a long-running stack stays flat.
        os.environ.setdefault("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(16 * 1024))
        from moto import mock_aws

        from . import moto_patches
        from .deployer import deploy

        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        moto_patches.apply(time_scale=self.config.time_scale)
        self.deployment = deploy(template, stack_name=STACK_NAME)
        self._start_aws_endpoint()
        gateway = self._start_gateway(template)
        os.environ.update(
            {
                **self.deployment.function_env,
                "SWAPFLOW_LOCAL": "1",
                "SWAPFLOW_AWS_ENDPOINT": self.aws_url,
                "SWAPFLOW_PUBLIC_URL": os.environ.get("SWAPFLOW_PUBLIC_URL") or self.api_url,
                # S3 manifests and Swap Requested events make jobs of the local tenant (its API key sees them).
                "SWAPFLOW_TRIGGER_TENANT": os.environ.get("SWAPFLOW_TRIGGER_TENANT") or LOCAL_TENANT,
                **self.config.env,
            }
        )
        self._seed_api_key()
        self._servers.append(gateway)
        self._start_janitor()
        return self

    def _start_janitor(self) -> None:
        """Keep a long-running stack flat in memory: moto never forgets threads or executions."""
        from . import moto_patches

        retention = float(os.environ.get("SWAPFLOW_LOCAL_EXECUTION_RETENTION_SECONDS", "900"))
        self._stopping = threading.Event()

        def sweep() -> None:
            while not self._stopping.wait(30):
                moto_patches.prune_finished_threads()
                moto_patches.forget_finished_executions(retention)

        threading.Thread(target=sweep, name="swapflow-janitor", daemon=True).start()

    def _start_aws_endpoint(self) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per S3 request

        server = ThreadedMotoServer(ip_address=self.config.host, port=self.config.aws_port, verbose=False)
        server.start()
        port = server.get_host_and_port()[1]
        self.aws_url = f"http://{self.config.host}:{port}"
        self._servers.append(server)

    def _start_gateway(self, template: dict[str, Any]) -> Any:
        import boto3

        from .gateway import Gateway

        gateway = Gateway(template, self.deployment, lambda_client=boto3.client("lambda"))
        httpd = gateway.serve(host=self.config.host, port=self.config.port)
        self.api_url = f"http://{self.config.host}:{httpd.server_address[1]}"
        return httpd

    def _seed_api_key(self) -> None:
        """The local tenant's key, and with it the tenant's webhook signing secret (shown by `make up`)."""
        from swapflow.wiring import tenants

        _, _, self.webhook_secret = tenants().create_key(LOCAL_TENANT, self.config.api_key)

    @property
    def outputs(self) -> dict[str, str]:
        return dict(self.deployment.outputs)

    def summary(self) -> dict[str, Any]:
        return {
            "api_url": self.api_url,
            "aws_endpoint": self.aws_url,
            "api_key": self.config.api_key,
            "webhook_secret": self.webhook_secret,
            "input_bucket": self.outputs.get("InputBucketName"),
            "archive_bucket": self.outputs.get("ArchiveBucketName"),
            "event_bus": self.outputs.get("EventBusName"),
            "state_machine": self.outputs.get("StateMachineArn"),
            "batch_state_machine": self.outputs.get("BatchStateMachineArn"),
            "rejected_requests_queue": self.outputs.get("RejectedRequestsQueueUrl"),
        }

    def stop(self) -> None:
        if hasattr(self, "_stopping"):
            self._stopping.set()
        for server in reversed(self._servers):
            with contextlib.suppress(Exception):  # stopping is best effort
                server.shutdown() if hasattr(server, "shutdown") else server.stop()
        if self._mock is not None:
            self._mock.stop()


def _fake_credentials() -> None:
    """moto needs credentials and a region; never real ones."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)


def serve_forever(stack: LocalStack) -> None:
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
