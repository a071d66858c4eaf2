"""The embedded local stack: the real CDK template deployed into moto, in this process.

`LocalStack.start()` synthesises the CDK app (asset bundling skipped), starts moto with state-machine
execution on, applies the moto patches, deploys the template, seeds the local tenant's API key, and
serves moto's AWS endpoint and the API Gateway adapter on loopback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .persistence import DataDir, Restored

LOG = logging.getLogger(__name__)
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
    """The template at `path`, else a fresh synthesis in a child process.

    The child keeps jsii's Node process (and its ~100 MB) out of a long-running stack, and its exit out
    of the stack's Ctrl-C.
    """
    if path:
        return dict(json.loads(Path(path).read_text()))
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "infra.local", "template"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError("CDK synthesis failed:\n" + done.stderr[-4000:])
    return dict(json.loads(done.stdout))


@dataclass
class LocalConfig:
    port: int = 8000
    aws_port: int = 4566
    host: str = "127.0.0.1"
    api_key: str = DEFAULT_API_KEY
    time_scale: float = 1.0
    template_path: str | None = None
    #: where `make up` keeps its data across restarts (None: nothing is kept, as for `make demo`)
    data_dir: Path | None = None
    fresh: bool = False
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> LocalConfig:
        return cls(
            port=int(os.environ.get("SWAPFLOW_PORT", "8000")),
            aws_port=int(os.environ.get("SWAPFLOW_AWS_PORT", "4566")),
            api_key=os.environ.get("SWAPFLOW_API_KEY") or DEFAULT_API_KEY,
            time_scale=float(os.environ.get("SWAPFLOW_TIME_SCALE", "1")),
            template_path=os.environ.get("SWAPFLOW_TEMPLATE") or None,
            data_dir=Path(os.environ.get("SWAPFLOW_DATA_DIR") or ROOT / ".swapflow"),
        )


class LocalStack:
    def __init__(self, config: LocalConfig | None = None) -> None:
        self.config = config or LocalConfig.from_env()
        self.api_url = ""
        self.aws_url = ""
        self.deployment: Any = None
        self.webhook_secret = ""  # the local tenant's whsec_ secret: client webhooks are signed with it
        self.aws: Any = None
        self.data: DataDir | None = None
        self.restored = Restored()
        self.interrupted: list[str] = []
        self._servers: list[Any] = []
        self._stopping = threading.Event()
        self._save_lock = threading.Lock()

    def start(self) -> LocalStack:
        from .embedded import EmbeddedAws, PortInUseError, fake_credentials

        template = load_template(self.config.template_path)
        fake_credentials()
        cap_malloc_arenas()
        # moto keeps each S3 object in a spooled buffer of ~5 MB before spilling to disk: every image
        # would stay in memory. Spill anything over 16 KB, so a long-running stack stays flat.
        os.environ.setdefault("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(16 * 1024))
        from .deployer import deploy

        if self.config.data_dir is not None:
            self.data = DataDir(self.config.data_dir).acquire(fresh=self.config.fresh)
        self.aws = EmbeddedAws(host=self.config.host, port=self.config.aws_port, time_scale=self.config.time_scale)
        try:
            self.aws.start()
            self.aws_url = self.aws.url
            self.deployment = deploy(template, stack_name=STACK_NAME)
            self.aws.use_deployment(self.deployment)
            if self.data is not None:
                self.restored = self.data.restore(self.deployment)
            gateway = self._start_gateway(template)
        except OSError as exc:
            self.stop()
            raise PortInUseError(self.config.port, "SWAPFLOW_PORT") from exc
        except BaseException:
            self.stop()
            raise
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
        if self.data is not None:
            self.interrupted = self._end_interrupted_jobs(template)
            self._start_autosave()
        return self

    def _end_interrupted_jobs(self, template: dict[str, Any]) -> list[str]:
        """Jobs in flight when the stack last stopped lost their executions: end each one, with its event."""
        import boto3

        job_ids = DataDir.interrupted_jobs(self.deployment)
        if not job_ids:
            return []
        finisher = _function_with_handler(template, self.deployment, "swapflow.handlers.finisher.handler")
        lam = boto3.client("lambda")
        error = {"code": "interrupted", "message": "the local stack stopped while the job ran; submit it again"}
        for job_id in job_ids:
            payload = json.dumps({"job_id": job_id, "mode": "fail", "error": error}).encode()
            answer = lam.invoke(FunctionName=finisher, Payload=payload)
            if answer.get("FunctionError"):
                LOG.error("could not end interrupted job %s: %s", job_id, answer["Payload"].read()[:500])
        return job_ids

    def _start_autosave(self) -> None:
        interval = float(os.environ.get("SWAPFLOW_LOCAL_SAVE_SECONDS", "10"))

        def autosave() -> None:
            while not self._stopping.wait(interval):
                try:
                    self.save()
                except Exception:  # the next round tries again; stopping saves once more
                    LOG.exception("saving the local stack's data failed")

        threading.Thread(target=autosave, name="swapflow-autosave", daemon=True).start()

    def save(self) -> None:
        """Write the stack's data to its data directory (no-op for an ephemeral stack)."""
        with self._save_lock:
            if self.data is not None and self.deployment is not None and self.aws is not None:
                self.data.save(self.deployment)

    def _start_janitor(self) -> None:
        """Keep a long-running stack flat in memory: moto never forgets threads, executions or models."""
        from .patches import housekeeping

        retention = float(os.environ.get("SWAPFLOW_LOCAL_EXECUTION_RETENTION_SECONDS", "900"))

        def sweep() -> None:
            while not self._stopping.wait(30):
                housekeeping.prune_finished_threads()
                housekeeping.forget_finished_executions(retention)
                housekeeping.forget_unreferenced_models()

        threading.Thread(target=sweep, name="swapflow-janitor", daemon=True).start()

    def _start_gateway(self, template: dict[str, Any]) -> Any:
        import boto3

        from .gateway import Gateway

        gateway = Gateway(template, self.deployment, lambda_client=boto3.client("lambda"))
        httpd = gateway.serve(host=self.config.host, port=self.config.port)
        httpd.handle_error = _quiet_disconnects(httpd.handle_error)  # type: ignore[method-assign]
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
        self._stopping.set()
        for server in reversed(self._servers):
            with contextlib.suppress(Exception):  # stopping is best effort
                server.shutdown()
        self._servers.clear()
        if self.data is not None:
            try:
                self.save()
            except Exception:
                LOG.exception("saving the local stack's data failed")
        if self.aws is not None:
            self.aws.stop()
            self.aws = None
        if self.data is not None:
            self.data.release()


def _function_with_handler(template: dict[str, Any], deployment: Any, handler: str) -> str:
    for logical_id, spec in template.get("Resources", {}).items():
        if spec.get("Type") == "AWS::Lambda::Function" and (spec.get("Properties") or {}).get("Handler") == handler:
            return str(deployment.functions[logical_id])
    raise LookupError(f"no function with handler {handler}")


def _quiet_disconnects(handle_error: Any) -> Any:
    """A client that hangs up mid-answer is normal for a dev server: no traceback for it."""
    import sys

    def handle(request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        handle_error(request, client_address)

    return handle


# glibc's mallopt parameter for the number of malloc arenas (malloc.h: M_ARENA_MAX).
M_ARENA_MAX = -8


def cap_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for this process, before its threads start; True if capped.

    glibc gives threads that contend for malloc arenas of their own, up to eight per core, and keeps what
    they free for reuse. The stack serves every request on a thread of its own, so its resident memory
    grew with the jobs it ran although its live objects did not (bench/manifest.py: 177 MB per 1,000
    jobs uncapped, 88 with two arenas). `MALLOC_ARENA_MAX` set by the user wins; not glibc: nothing to do.
    """
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, arenas))


def serve_forever(stack: LocalStack) -> None:
    stop = threading.Event()
    try:
        # Waking twice a second runs a SIGTERM/SIGINT handler even when the kernel gave the signal to another
        # of the stack's threads (Python runs handlers only in the main thread, once it wakes).
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stop_within(stack, STOP_SECONDS)


# Ctrl-C (or `kill`) ends the stack within this long, whatever a thread is stuck on.
STOP_SECONDS = 20.0


def stop_within(stack: LocalStack, seconds: float, code: int = 0) -> None:
    """Stop the stack (servers, data saved, environments ended), then leave the process at once with `code`.

    A stop that takes longer prints every thread's stack (what it waited on) and exits anyway: a developer's
    Ctrl-C must never hang. Once stop() returned nothing is left to flush but the standard streams, so the
    exit skips interpreter finalisation, which would wait on any non-daemon thread a library left behind.
    """
    import faulthandler
    import os
    import sys

    done = threading.Thread(target=stack.stop, name="swapflow-stop", daemon=True)
    done.start()
    done.join(seconds)
    if done.is_alive():
        print(f"swapflow: the stack did not stop within {seconds:.0f} s; its threads:", file=sys.stderr, flush=True)
        faulthandler.dump_traceback(all_threads=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1 if done.is_alive() else code)
