"""Patches that make moto 5.2.5 run the swapflow stack in-process, like AWS would.

Every patch is a small function with a docstring saying why it exists; ``apply()`` runs them all and
is idempotent. Each patched moto function is recorded in the canaries' ``RECORDED_SOURCES`` with
the SHA-256 of its source at the time the patch was written, and the canary tests
(``tests/integration/local/test_moto_canaries.py``) fail when a moto upgrade changes any of them, so
that a patch is re-checked rather than silently wrong.

Nothing here is used in AWS: these patches only ever touch moto's in-memory models.

Time scaling (``apply(time_scale=...)``, tests only): Wait states, ``TimeoutSeconds`` /
``TimeoutSecondsPath``, ``HeartbeatSeconds`` and Retry intervals are multiplied by ``time_scale``
inside moto's state machine interpreter. Values that travel in the execution *data* are not scaled:
a handler that reads e.g. ``$.pollSeconds`` (the same number a ``TimeoutSecondsPath`` points at)
sees the unscaled value, so its own poll interval is unchanged while the state's timeout is shrunk.
The state machine's top-level ``TimeoutSeconds`` is not scaled.

Memory note: moto keeps every execution (with its full event history and environment) in
``state_machine.executions`` for the life of the backend, and appends every worker thread it
starts to ``moto.stepfunctions.parser.utils.TMP_THREADS`` without ever removing it. Finished
``Thread`` objects are small (``run`` drops its target), but the list and the executions grow
without bound in a long-lived local stack; ``prune_finished_threads()`` trims the thread list.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime
import hashlib
import inspect
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC
from typing import Any

from .serialized_aws import DISPATCH_LOCK, patch_serialized_dispatch

LOG = logging.getLogger(__name__)

MOTO_VERSION = "5.2.5"

#: Environment variables that legitimately differ per function. They are never written to the
#: shared ``os.environ`` (all functions share one process); the deployer skips them when it checks
#: that the functions agree on the shared environment.
PER_FUNCTION_ENV_VARS: frozenset[str] = frozenset(
    {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_EXEC_WRAPPER",
        "AWS_NODEJS_CONNECTION_REUSE_ENABLED",
        "_HANDLER",
    }
)

# --------------------------------------------------------------------------------------------
# patch bookkeeping
# --------------------------------------------------------------------------------------------

_LOCK = threading.RLock()
_ORIGINALS: dict[tuple[int, str], tuple[Any, str, Any]] = {}
_APPLIED: set[str] = set()
_PATCH_KEYS: dict[str, list[tuple[int, str]]] = {}
_CURRENT_PATCH: list[str] = []
_TIME_SCALE = 1.0


def time_scale() -> float:
    """The current time scale (1.0 unless a test asked for less)."""
    return _TIME_SCALE


def _scaled(seconds: float) -> float:
    return seconds * _TIME_SCALE


def _replace(owner: Any, name: str, new: Any) -> Any:
    """Set ``owner.name = new`` and return the original (remembered on the first call only)."""
    key = (id(owner), name)
    with _LOCK:
        if key not in _ORIGINALS:
            _ORIGINALS[key] = (owner, name, _lookup(owner, name))
        if _CURRENT_PATCH:
            _PATCH_KEYS.setdefault(_CURRENT_PATCH[-1], []).append(key)
        setattr(owner, name, new)
        return _ORIGINALS[key][2]


def original(owner: Any, name: str) -> Any:
    """The unpatched attribute ``owner.name`` (the current one when it was never patched)."""
    key = (id(owner), name)
    if key in _ORIGINALS:
        return _ORIGINALS[key][2]
    return _lookup(owner, name)


def _lookup(owner: Any, name: str) -> Any:
    if isinstance(owner, type):
        for klass in owner.__mro__:
            if name in klass.__dict__:
                return klass.__dict__[name]
    return getattr(owner, name)


def _func(obj: Any) -> Any:
    return obj.__func__ if isinstance(obj, (staticmethod, classmethod)) else obj


def source_sha256(owner: Any, name: str) -> str:
    """SHA-256 of the source of the *original* ``owner.name`` (what the canaries compare)."""
    src = inspect.getsource(_func(original(owner, name)))
    return hashlib.sha256(src.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# P1: Lambda functions run in-process
# --------------------------------------------------------------------------------------------


def _handler_name(fn: Any) -> str:
    if getattr(fn, "package_type", "Zip") == "Image":
        cmd = list(getattr(fn.image_config, "cmd", None) or [])
        if not cmd:
            raise ValueError(f"Image function {fn.function_name} has no ImageConfig.Command")
        return str(cmd[0])
    if not fn.handler:
        raise ValueError(f"Function {fn.function_name} has no Handler")
    return str(fn.handler)


def function_spec(fn: Any) -> Any:
    """What the local Lambda runtime needs of a moto function: all of it from the template."""
    from .runtime import FunctionSpec

    return FunctionSpec(
        name=fn.function_name,
        handler=_handler_name(fn),
        timeout_s=float(fn.timeout or 3),
        memory_mb=int(fn.memory_size or 128),
        environment=dict(fn.environment_vars or {}),
        arn=fn.function_arn,
        version=str(fn.version),
        reserved_concurrency=None if fn.reserved_concurrency is None else int(fn.reserved_concurrency),
    )


def _invoke_lambda_in_environment(self: Any, event: Any = None) -> tuple[str, bool, str]:
    """Replacement for ``LambdaFunction._invoke_lambda``: run the invocation in an execution environment.

    Returns ``(payload, errored, logs)`` like the original; on an error the payload is the Lambda error
    document (``errorType``/``errorMessage``, with ``stackTrace`` for handler exceptions). The dispatch
    lock is let go while the function runs: it calls AWS itself.
    """
    from .runtime import current

    with DISPATCH_LOCK.released():
        result = current().invoke(function_spec(self), {} if event is None else event)
    return result.payload, result.errored, ""


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key in (name, name.lower(), name.title()):
        try:
            value = headers.get(key)
        except AttributeError:
            return None
        if value:
            return str(value)
    for key, value in dict(headers).items():
        if str(key).lower() == name.lower():
            return str(value)
    return None


def invoke_async(fn: Any, event: Any) -> Any:
    """Queue ``event`` for ``fn`` (InvocationType=Event): retried and dead-lettered as in AWS."""
    from .runtime import current

    return current().invoke_async(function_spec(fn), event)


def wait_async_idle(timeout: float = 30.0) -> bool:
    """Wait until no asynchronous invocation is running (also those they start). True if idle."""
    from .runtime import current

    return current().wait_async_idle(timeout)


def _lambda_invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
    """Replacement for ``LambdaFunction.invoke``: honour InvocationType and report errors as AWS.

    * ``Event``: queue the invocation and return at once (the response layer answers 202);
    * ``DryRun``: do nothing;
    * ``RequestResponse``: run it; an error sets ``FunctionError: Unhandled`` (moto says ``Handled``).
    """
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8")
    inv_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
    if inv_type == "DryRun":
        return b""
    if inv_type == "Event":
        invoke_async(self, json.loads(body) if body else {})
        return b""
    payload, errored, logs = self._invoke_lambda(event=body or "{}")
    if errored:
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["x-amz-log-result"] = base64.b64encode(logs.encode("utf-8")).decode("ascii")
    return payload.encode("utf-8")


def patch_lambda_runtime() -> None:
    """P1: run Lambda invocations in the local runtime's execution environments instead of Docker.

    moto's ``LambdaFunction._invoke_lambda`` starts a Docker container; there is no Docker here. The
    replacement hands the invocation to ``infra.local.runtime`` (worker processes with Lambda's
    contract). ``LambdaFunction.invoke`` is replaced too: moto runs ``Event`` invocations synchronously
    and flags handler errors as ``Handled``; AWS returns 202 at once and says ``Unhandled``.
    """
    from moto.awslambda.models import LambdaFunction

    _replace(LambdaFunction, "_invoke_lambda", _invoke_lambda_in_environment)
    _replace(LambdaFunction, "invoke", _lambda_invoke)


def patch_parse_once() -> None:
    """P7: parse each state machine definition once (see ``infra.local.parsed_definitions``)."""
    from .parsed_definitions import patch_parse_once as patch

    patch(_replace, original)


def patch_fast_dispatch() -> None:
    """P8: per-request work whose answer never changes, done once (see ``infra.local.fast_dispatch``)."""
    from .fast_dispatch import patch_fast_dispatch as patch

    patch(_replace)


def patch_serialized_aws() -> None:
    """P0: one request at a time into moto's backends (see ``infra.local.serialized_aws``)."""
    patch_serialized_dispatch(_replace, original)


def _s3_invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    try:
        from moto.awslambda.utils import get_backend

        func = get_backend(account_id, region_name).get_function(fn_arn)
        func.invoke(json.dumps(event_body), {"X-Amz-Invocation-Type": "Event"}, {})
    except Exception:  # as moto: never fail the S3 call because of its notification
        LOG.exception("S3 notification to %s failed", fn_arn)


def patch_s3_notifications_async() -> None:
    """P1b: S3 -> Lambda notifications are asynchronous invocations, as in AWS.

    moto invokes the function synchronously inside PutObject (so a slow handler blocks the upload
    and runs on the uploader's thread). Keys already arrive ``quote_plus``-encoded (moto does it).
    """
    from moto.s3 import notifications

    _replace(notifications, "_invoke_awslambda", _s3_invoke_awslambda)


# --------------------------------------------------------------------------------------------
# P2: StartExecution without a name
# --------------------------------------------------------------------------------------------


def patch_start_execution_name() -> None:
    """P2: StartExecution without ``name`` gets a UUID, as in AWS.

    The execute-state-machine backend builds the ARN from ``name`` as given (``...:None``) and
    EventBridge's state machine target passes ``""``.
    """
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    orig = original(StepFunctionsParserBackend, "start_execution")

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: str | None = None,
        trace_header: str | None = None,
    ) -> Any:
        return orig(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    _replace(StepFunctionsParserBackend, "start_execution", start_execution)


# --------------------------------------------------------------------------------------------
# P3: StopExecution interrupts waits; ABORTED is final
# --------------------------------------------------------------------------------------------


def patch_stop_execution() -> None:
    """P3: StopExecution while a token task (or a Map of them) waits.

    moto marks the program stopped but the token wait keeps blocking until its TimeoutSeconds, the
    execution stays RUNNING (no ``stopDate``) until then, and the error that the interrupted task
    then raises overwrites the stopped state, so the execution ends FAILED instead of ABORTED.
    The patch interrupts every open callback endpoint, reports ABORTED and the stop date at once,
    and makes ``set_error``/``set_timed_out`` leave a stopped program alone.
    """
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution import Execution

    orig_stop = original(Execution, "stop")
    orig_set_error = original(Environment, "set_error")
    orig_set_timed_out = original(Environment, "set_timed_out")

    def stop(self: Any, stop_date: datetime.datetime, error: str | None, cause: str | None) -> None:
        was_running = self.exec_status == ExecutionStatus.RUNNING
        # A stop right after the start can find the worker thread not yet in its program (no `env`):
        # moto then raises AttributeError. The thread needs no AWS call to get there, so wait for it.
        deadline = time.monotonic() + 10
        while was_running and self.exec_worker is not None and self.exec_worker.env is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        orig_stop(self, stop_date, error, cause)
        worker = self.exec_worker
        env = getattr(worker, "env", None)
        if env is None or not was_running:
            return
        self.exec_status = ExecutionStatus.ABORTED
        self.stop_date = stop_date
        pool = env.callback_pool_manager._pool
        for endpoint in list(pool.values()):
            endpoint.interrupt_all()

    def set_error(self: Any, error: Any) -> None:
        if isinstance(self._program_state, ProgramStopped):
            return
        orig_set_error(self, error)

    def set_timed_out(self: Any) -> None:
        if isinstance(self._program_state, ProgramStopped):
            return
        orig_set_timed_out(self)

    _replace(Execution, "stop", stop)
    _replace(Environment, "set_error", set_error)
    _replace(Environment, "set_timed_out", set_timed_out)

    # _reflect_execution_status would replace the stop date with the time the worker noticed.
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    orig_reflect = original(BaseExecutionWorkerCommunication, "_reflect_execution_status")

    def _reflect_execution_status(self: Any) -> None:
        stopped_at = self.execution.stop_date if self.execution.exec_status == ExecutionStatus.ABORTED else None
        orig_reflect(self)
        if stopped_at is not None:
            self.execution.stop_date = stopped_at

    _replace(BaseExecutionWorkerCommunication, "_reflect_execution_status", _reflect_execution_status)


# --------------------------------------------------------------------------------------------
# P4: EventBridge rule -> Lambda / state machine targets
# --------------------------------------------------------------------------------------------


def _event_time_iso(event: dict[str, Any]) -> dict[str, Any]:
    event = dict(event)
    event.pop("ingestion-time", None)
    when = event.get("time")
    if isinstance(when, (int, float)):
        event["time"] = datetime.datetime.fromtimestamp(float(when), tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def _json_path_get(document: Any, path: str) -> Any:
    """``$``, ``$.a.b``, ``$.a[0]`` style paths (what EventBridge's InputPath uses in practice)."""
    from jsonpath_ng.ext import parse

    matches = parse(path).find(document)
    if not matches:
        return None
    return matches[0].value


def target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What EventBridge hands a target: Input, InputPath, InputTransformer or the whole event."""
    full = _event_time_iso(event)
    if target.get("Input") is not None:
        return json.loads(target["Input"])
    if target.get("InputPath"):
        return _json_path_get(full, target["InputPath"])
    transformer = target.get("InputTransformer")
    if transformer:
        template: str = transformer.get("InputTemplate", "")
        for key, path in (transformer.get("InputPathsMap") or {}).items():
            value = _json_path_get(full, path)
            placeholder = f"<{key}>"
            quoted = f'"{placeholder}"'
            if isinstance(value, str):
                template = template.replace(quoted, json.dumps(value)).replace(placeholder, json.dumps(value)[1:-1])
            else:
                template = template.replace(quoted, json.dumps(value)).replace(placeholder, json.dumps(value))
        template = template.replace("<aws.events.event.json>", json.dumps(full))
        try:
            return json.loads(template)
        except ValueError:
            return template
    return full


def _deliver_to_lambda(account_id: str, arn: str, payload: Any) -> None:
    from moto.awslambda.utils import get_backend

    region = arn.split(":")[3]
    fn = get_backend(account_id, region).get_function(arn)
    invoke_async(fn, payload)


def _deliver_to_state_machine(account_id: str, arn: str, payload: Any) -> None:
    from moto.stepfunctions.responses import get_backend

    region = arn.split(":")[3]
    get_backend(account_id, region).start_execution(arn, "", json.dumps(payload))


def patch_events_targets() -> None:
    """P4: deliver EventBridge rule targets that are Lambda functions or state machines.

    moto's ``Rule.send_to_targets`` raises NotImplementedError for both (which also stops the
    delivery to the rule's remaining targets and fails PutEvents). Lambda targets are invoked
    asynchronously, state machine targets get StartExecution(input=event); Input, InputPath and
    simple InputTransformers are honoured. Other targets go to moto's implementation.
    """
    from moto.events.models import Rule

    orig = original(Rule, "send_to_targets")

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        ours = [t for t in self.targets if t["Arn"].split(":")[2] in ("lambda", "states")]
        rest = [t for t in self.targets if t not in ours]
        if rest:
            shallow = copy.copy(self)
            shallow.targets = rest
            orig(shallow, original_event, transform_input)
        for target in ours:
            arn = target["Arn"]
            payload = target_input(target, original_event) if transform_input else original_event
            try:
                if arn.split(":")[2] == "lambda":
                    _deliver_to_lambda(self.account_id, arn, payload)
                else:
                    _deliver_to_state_machine(self.account_id, arn, payload)
            except Exception:  # EventBridge never fails PutEvents because of a target
                LOG.exception("EventBridge rule %s: delivery to %s failed", self.name, arn)

    _replace(Rule, "send_to_targets", send_to_targets)


# --------------------------------------------------------------------------------------------
# P5: a retried token task gets a fresh token
# --------------------------------------------------------------------------------------------


def patch_fresh_task_token_on_retry() -> None:
    """P5: each attempt of a ``.waitForTaskToken`` task gets its own token.

    moto generates the token once per state, before the Retry loop. The second attempt then hands
    the handler the first attempt's token, whose endpoint was already closed, so its wait returns
    at once with the first attempt's outcome (AWS issues a new token for every attempt).
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )

    inherited = original(StateTaskServiceCallback, "_eval_execution")

    def _eval_execution(self: Any, env: Any) -> None:
        if self.resource.condition == ResourceCondition.WaitForTaskToken:
            data = env.states.context_object.context_object_data
            token = (data.get("Task") or {}).get("Token")
            endpoint = env.callback_pool_manager.get(token) if token else None
            if endpoint is None or endpoint._notify_event.is_set():
                new_token = env.states.context_object.update_task_token()
                env.callback_pool_manager.add(new_token)
        inherited(self, env)

    _replace(StateTaskServiceCallback, "_eval_execution", _eval_execution)


# --------------------------------------------------------------------------------------------
# P6: callbacks for expired/closed tokens
# --------------------------------------------------------------------------------------------


def _find_endpoint(backend: Any, token: str) -> tuple[Any, Any]:
    for execution in backend._get_executions():
        worker = getattr(execution, "exec_worker", None)
        env = getattr(worker, "env", None)
        if env is None:
            continue
        endpoint = env.callback_pool_manager.get(token)
        if endpoint is not None:
            return execution, endpoint
    return None, None


def _task_timed_out() -> Exception:
    from moto.core.exceptions import AWSError

    class TaskTimedOut(AWSError):
        TYPE = "TaskTimedOut"
        STATUS = 400

    return TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'")


def _open_endpoint(backend: Any, token: str) -> Any:
    from moto.stepfunctions.exceptions import InvalidToken
    from moto.stepfunctions.parser.api import ExecutionStatus

    if not token or not isinstance(token, str):
        raise InvalidToken("Invalid token")
    execution, endpoint = _find_endpoint(backend, token)
    if endpoint is None:
        raise InvalidToken("Invalid token")
    if (
        execution.exec_status != ExecutionStatus.RUNNING
        or endpoint._notify_event.is_set()
        or endpoint.get_outcome() is not None
        or endpoint.consumer_error is not None
    ):
        raise _task_timed_out()
    return endpoint


def patch_task_callbacks() -> None:
    """P6: SendTaskSuccess/Failure/Heartbeat for a closed token fail as in AWS.

    moto accepts a callback for a token whose wait already timed out or completed (silently, as a
    success), says InvalidToken for tokens of finished executions, rejects heartbeats for tasks
    without HeartbeatSeconds, and drops SendTaskFailure's ``cause``. AWS: an unknown token is
    InvalidToken; a token whose task is closed (timed out, completed, execution ended) is
    TaskTimedOut.
    """
    from moto.stepfunctions.parser.asl.eval.callback.callback import (
        CallbackOutcomeFailure,
        CallbackOutcomeSuccess,
    )
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_success(self: Any, task_token: str, outcome: str) -> None:
        endpoint = _open_endpoint(self, task_token)
        endpoint.notify(CallbackOutcomeSuccess(callback_id=task_token, output=outcome))

    def send_task_failure(self: Any, task_token: str, error: str | None = None, cause: str | None = None) -> None:
        endpoint = _open_endpoint(self, task_token)
        endpoint.notify(CallbackOutcomeFailure(callback_id=task_token, error=error, cause=cause))

    def send_task_heartbeat(self: Any, task_token: str) -> None:
        endpoint = _open_endpoint(self, task_token)
        endpoint.notify_heartbeat()

    def response_send_task_failure(self: Any) -> Any:
        from moto.core.responses import EmptyResult

        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    _replace(StepFunctionsParserBackend, "send_task_success", send_task_success)
    _replace(StepFunctionsParserBackend, "send_task_failure", send_task_failure)
    _replace(StepFunctionsParserBackend, "send_task_heartbeat", send_task_heartbeat)
    _replace(StepFunctionResponse, "send_task_failure", response_send_task_failure)


# --------------------------------------------------------------------------------------------
# T1: time scaling (tests only)
# --------------------------------------------------------------------------------------------


class _ScaledTime:
    """Stands in for the ``time`` module inside moto's retrier: ``sleep`` is scaled."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(_scaled(seconds))


def patch_time_scaling() -> None:
    """T1: shrink Wait, TimeoutSeconds(Path), HeartbeatSeconds(Path) and Retry intervals.

    For tests only (``time_scale`` 1.0 changes nothing). moto's Wait state also cannot wait a
    fraction of a second (it rounds what it waited down to whole seconds and waits again, forever),
    so the Wait loop is replaced by one that waits until a deadline or until the program stops.
    """
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.common.timeouts.heartbeat import Heartbeat
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import Timeout
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )

    def timeout_eval_body(self: Any, env: Any) -> None:
        seconds = self._eval_seconds(env=env)
        if not self.is_default_value():
            seconds = _scaled(seconds)
        env.stack.append(seconds)

    def heartbeat_eval_body(self: Any, env: Any) -> None:
        env.stack.append(_scaled(self._eval_seconds(env=env)))

    def wait_interval(self: Any, env: Any, wait_seconds: float) -> None:
        deadline = time.monotonic() + _scaled(wait_seconds)
        while env.is_running():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            env.program_state_event.wait(remaining)

    _replace(Timeout, "_eval_body", timeout_eval_body)
    _replace(Heartbeat, "_eval_body", heartbeat_eval_body)
    _replace(WaitFunction, "_wait_interval", wait_interval)
    with _LOCK:
        if not isinstance(retrier_decl.time, _ScaledTime):
            _replace(retrier_decl, "time", _ScaledTime())


def prune_finished_threads() -> int:
    """Drop finished threads from moto's never-emptied ``TMP_THREADS`` list; returns how many."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    with _LOCK:
        alive = [t for t in TMP_THREADS if t.is_alive()]
        dropped = len(TMP_THREADS) - len(alive)
        TMP_THREADS[:] = alive
    return dropped


def forget_finished_executions(older_than_seconds: float) -> int:
    """Drop executions that ended more than `older_than_seconds` ago; returns how many.

    moto keeps every execution with its full history for the backend's lifetime, so a long-running
    local stack would grow without bound. AWS keeps them 90 days; a laptop keeps them this long.
    """
    from datetime import datetime

    from moto.stepfunctions.models import stepfunctions_backends
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    now = datetime.now(UTC)
    dropped = 0
    with _LOCK:
        for backends in (stepfunctions_backends, stepfunctions_parser_backends):
            for backend in (b for regions in backends.values() for b in regions.values()):
                for machine in backend.state_machines:
                    keep = []
                    for execution in machine.executions:
                        stopped = execution.stop_date
                        if stopped is not None and stopped.tzinfo is None:
                            stopped = stopped.replace(tzinfo=UTC)
                        if stopped is not None and (now - stopped).total_seconds() > older_than_seconds:
                            dropped += 1
                        else:
                            keep.append(execution)
                    machine.executions[:] = keep
    return dropped


# --------------------------------------------------------------------------------------------
# apply
# --------------------------------------------------------------------------------------------

PATCHES: dict[str, Callable[[], None]] = {
    "P0": patch_serialized_aws,
    "P1": patch_lambda_runtime,
    "P1b": patch_s3_notifications_async,
    "P2": patch_start_execution_name,
    "P3": patch_stop_execution,
    "P4": patch_events_targets,
    "P5": patch_fresh_task_token_on_retry,
    "P6": patch_task_callbacks,
    "P7": patch_parse_once,
    "P8": patch_fast_dispatch,
    "T1": patch_time_scaling,
}


def _check_version() -> None:
    import moto

    if moto.__version__ != MOTO_VERSION:
        LOG.warning(
            "moto %s is not the version these patches were written for (%s): run the canary tests",
            moto.__version__,
            MOTO_VERSION,
        )


def apply(*, time_scale: float = 1.0, only: tuple[str, ...] | None = None) -> None:
    """Apply all patches (idempotent); ``time_scale`` may be changed by a later call.

    ``only`` restricts to some patch ids (for the canaries' with/without comparisons).
    """
    global _TIME_SCALE
    if time_scale <= 0:
        raise ValueError("time_scale must be > 0")
    with _LOCK:
        _TIME_SCALE = float(time_scale)
        _check_version()
        for patch_id, patch in PATCHES.items():
            if only is not None and patch_id not in only:
                continue
            if patch_id not in _APPLIED:
                _CURRENT_PATCH.append(patch_id)
                try:
                    patch()
                finally:
                    _CURRENT_PATCH.pop()
                _APPLIED.add(patch_id)


def applied() -> frozenset[str]:
    """Ids of the patches applied so far."""
    return frozenset(_APPLIED)


@contextlib.contextmanager
def suspended(*patch_ids: str) -> Iterator[None]:
    """Temporarily put moto's original code back for some patches (canaries compare behaviours)."""
    with _LOCK:
        saved: list[tuple[Any, str, Any]] = []
        for patch_id in patch_ids:
            for key in _PATCH_KEYS.get(patch_id, []):
                owner, name, orig = _ORIGINALS[key]
                saved.append(
                    (
                        owner,
                        name,
                        _lookup(owner, name) if not isinstance(owner, type) else owner.__dict__[name],
                    )
                )
                setattr(owner, name, orig)
    try:
        yield
    finally:
        with _LOCK:
            for owner, name, patched in saved:
                setattr(owner, name, patched)
