"""The embedded AWS: moto in this process, served on loopback, with the patches and the Lambda runtime.

The local stack (``runner.LocalStack``), the local-stack integration tests and the benchmarks all start
AWS the same way: ``EmbeddedAws().start()``. Lambda functions run in the runtime's execution
environments (worker processes), which reach this moto through ``url``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from typing import Any

LOG = logging.getLogger(__name__)


def fake_credentials(region: str = "us-east-1") -> None:
    """moto needs credentials and a region; never real ones."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }.items():
        os.environ[name] = value
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)


class EmbeddedAws:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, time_scale: float = 1.0) -> None:
        self.host = host
        self.port = port
        self.time_scale = time_scale
        self.url = ""
        self.runtime: Any = None
        self._mock: Any = None
        self._server: Any = None
        self._socket: Any = None

    def start(self) -> EmbeddedAws:
        from moto import mock_aws

        from . import patches, runtime

        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        patches.apply_all(time_scale=self.time_scale)
        self._serve()
        self.runtime = runtime.configure(endpoint=self.url, delay_scale=patches.time_scaling.time_scale)
        self.runtime.failure_sink = _send_to_destination
        return self

    def _serve(self) -> None:
        """moto's server app on our own socket: bound here, so a taken port is an error, not a hang."""
        import socket
        import threading

        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per S3 request
        app = DomainDispatcherApplication(create_backend_app)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:  # werkzeug would print two lines and exit the process; say what to change
            sock.close()
            raise PortInUseError(self.port, "SWAPFLOW_AWS_PORT") from exc
        sock.listen(128)
        sock.set_inheritable(True)
        self._socket = sock
        self._server = make_server(
            self.host, self.port, app, True, request_handler=MotoRequestHandler, fd=sock.fileno()
        )
        threading.Thread(target=self._server.serve_forever, name="aws-endpoint", daemon=True).start()
        self.url = f"http://{self.host}:{self._server.server_address[1]}"

    def use_deployment(self, deployment: Any) -> None:
        """Give the runtime what the template says about async invocations (retries, on-failure)."""
        from .runtime import AsyncConfig

        for name, config in deployment.async_configs.items():
            self.runtime.async_configs[name] = AsyncConfig(config["max_retries"], config.get("on_failure"))

    def stop(self) -> None:
        from . import patches, runtime

        runtime.shutdown()
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.shutdown()
                self._server.server_close()
                self._socket.close()
        if self._mock is not None:
            self._mock.stop()
        patches.s3_spill.remove_spill_directory()


class PortInUseError(RuntimeError):
    """A port the stack needs is taken; the message names the variable that moves it."""

    def __init__(self, port: int, variable: str) -> None:
        super().__init__(f"port {port} is in use: set {variable} to a free port (or 0 for any)")
        self.port = port
        self.variable = variable


def _send_to_destination(arn: str, record: dict[str, Any]) -> None:
    """An async invocation that kept failing goes to its on-failure destination (SQS here)."""
    import boto3

    service = arn.split(":")[2]
    if service != "sqs":
        LOG.warning("on-failure destination %s is not delivered locally (only SQS is)", arn)
        return
    sqs = boto3.client("sqs", region_name=arn.split(":")[3])
    url = sqs.get_queue_url(QueueName=arn.split(":")[5])["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
