"""The offline engine's own Lambda, invoked asynchronously by the `engine` provider.

A zip (not a container image): the engine's wheels (numpy, opencv-headless, pillow) fit Lambda's
250 MB unzipped limit, bundle without Docker, and cold-start faster than an image pull.
"""

from __future__ import annotations

from aws_cdk import Duration
from constructs import Construct

from .functions import (
    FunctionSpec,
    async_failures_to,
    dead_letter_queue,
    grant_read_put,
    grant_task_callbacks,
    python_function,
)
from .storage import Storage

ENGINE = FunctionSpec(
    "engine_worker.handler", "swapflow offline face-swap engine", memory_mb=2048, timeout_s=120, with_engine=True
)


class Engine(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, storage: Storage, environment: dict[str, str]) -> None:
        super().__init__(scope, construct_id)
        self.dlq = dead_letter_queue(self, "FailedInvocations")
        self.function = python_function(self, "Function", ENGINE, environment)
        async_failures_to(
            self, "AsyncConfig", self.function, self.dlq, retry_attempts=1, max_event_age=Duration.minutes(15)
        )
        grant_read_put(self.function, storage.input_bucket)  # inputs in, results out under staging/
        grant_task_callbacks(self.function)  # completes the job's wait like a provider webhook
        storage.table.grant_read_write_data(self.function)
