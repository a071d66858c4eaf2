"""The inside of one local execution environment: a process that runs one invocation at a time.

Started by ``infra.local.runtime.environments`` through a fork server (so a cold start costs a fork and the
handler's own imports, as Lambda's costs the runtime's start and the handler's imports). The module
imports nothing heavy at top level: what the handler needs, the handler imports, as in Lambda.

The protocol on the pipe is small tuples:

* worker -> host, once: ``("ready", init_ms)`` or ``("init_error", error_document)``;
* host -> worker: ``("invoke", request_id, event_json, deadline_epoch_s)``;
* worker -> host: ``("result", payload_json, errored, duration_ms)``.

The host ends the environment by closing its end of the pipe (the worker then returns) or by
SIGKILL (timeout, memory), exactly as Lambda freezes and discards environments.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import time
import traceback
from dataclasses import dataclass
from typing import Any


@dataclass
class LambdaContext:
    """What the Python Lambda runtime passes as ``context``."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_epoch_s: float
    identity: Any = None
    client_context: Any = None
    tenant_id: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_epoch_s - time.time()) * 1000))


def error_document(exc: BaseException, error_type: str | None = None, message: str | None = None) -> dict[str, Any]:
    """The Python runtime's error document for an exception that left the handler."""
    tb = exc.__traceback__.tb_next if exc.__traceback__ else None  # the runtime's own frame is not shown
    return {
        "errorMessage": message if message is not None else str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_tb(tb),
    }


def _die_with_host() -> None:
    """If the host (the fork server, whose life follows the stack's) dies, take this process with it."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the closed pipe still ends the loop
        pass


def _name_process(handler: str) -> None:
    """`L:<handler module>` in ps/top and /proc/PID/comm, so a person (or a test) can tell environments apart."""
    try:
        import ctypes

        name = f"L:{handler.rpartition('.')[0].rpartition('.')[2]}"[:15].encode()
        ctypes.CDLL("libc.so.6").prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME
    except Exception:  # not Linux: only the name is missing
        pass


def _resolve(handler: str) -> Any:
    module_name, _, func_name = handler.rpartition(".")
    if not module_name:
        raise ValueError(f"Bad handler {handler!r}: not of the form 'module.function'")
    return getattr(importlib.import_module(module_name), func_name)


def main(conn: Any, handler: str, environment: dict[str, str], static: dict[str, Any]) -> None:
    """Init (environment, handler import), then invoke until the host closes the pipe."""
    _die_with_host()
    _name_process(handler)
    os.environ.clear()
    os.environ.update(environment)
    started = time.perf_counter()
    try:
        fn = _resolve(handler)
    except Exception as exc:
        module = handler.rpartition(".")[0]
        kind = "Runtime.ImportModuleError" if isinstance(exc, ImportError) else "Runtime.HandlerNotFound"
        if not isinstance(exc, (ImportError, AttributeError, ValueError)):
            kind = type(exc).__name__  # an exception raised by the module's own init code
        conn.send(("init_error", error_document(exc, kind, f"Unable to import module '{module}': {exc}")))
        return
    conn.send(("ready", (time.perf_counter() - started) * 1000))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        _, request_id, event_json, deadline = message
        context = LambdaContext(
            function_name=static["function_name"],
            function_version=static["function_version"],
            invoked_function_arn=static["invoked_function_arn"],
            memory_limit_in_mb=int(static["memory_limit_in_mb"]),
            aws_request_id=request_id,
            log_group_name=static["log_group_name"],
            log_stream_name=f"{datetime.date.today():%Y/%m/%d}/[$LATEST]{os.getpid():x}",
            deadline_epoch_s=deadline,
        )
        os.environ["_X_AMZN_TRACE_ID"] = f"Root=1-{int(time.time()):08x}-{request_id.replace('-', '')[:24]}"
        began = time.perf_counter()
        try:
            result = fn(json.loads(event_json), context)
            try:
                payload, errored = json.dumps(result), False
            except (TypeError, ValueError) as exc:
                document = error_document(exc, "Runtime.MarshalError", f"Unable to marshal response: {exc}")
                payload, errored = json.dumps(document), True
        except Exception as exc:
            payload, errored = json.dumps(error_document(exc)), True
        conn.send(("result", payload, errored, (time.perf_counter() - began) * 1000))
