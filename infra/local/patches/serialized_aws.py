"""P0: one lock around moto's request dispatch, so no AWS call sees another's half-written state.

moto's backends are plain Python objects without locks: a DynamoDB item read while another thread writes
the same table raised ``RuntimeError: dictionary changed size during iteration``. Real AWS is
linearizable per item; the embedded one is made so by running one request at a time, whether it comes
through the local endpoint (the Lambda environments, the CLI, the tests) or in-process (the state
machine interpreter's service integrations, the API gateway adapter).

The request body is read off the socket before the lock is taken (a starved client sending slowly must
not stall everyone else), and the response body is produced inside it. A request that invokes a Lambda
synchronously (the state machine's Lambda tasks, the gateway, an SQS event source) releases the lock
while the function runs (``DISPATCH_LOCK.released()`` in P1): the
function itself calls AWS, and must not wait on its caller. The cost of the lock is measured in
``bench/runtime.py`` (AWS calls per second from many environments, with and without it).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any


class DispatchLock:
    """A re-entrant lock that a thread can let go of completely while it waits for something else."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self.enabled = True

    def __enter__(self) -> DispatchLock:
        if not self.enabled:
            return self
        me = threading.get_ident()
        if self._owner == me:
            self._depth += 1
            return self
        self._lock.acquire()
        self._owner, self._depth = me, 1
        return self

    def __exit__(self, *exc: object) -> None:
        if self._owner != threading.get_ident():
            return
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """Let go (at every depth) for the duration of the block, then hold it again as before."""
        if self._owner != threading.get_ident():
            yield
            return
        depth = self._depth
        self._owner, self._depth = None, 0
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            self._owner, self._depth = threading.get_ident(), depth


DISPATCH_LOCK = DispatchLock()


def patch_serialized_dispatch(replace: Any, original: Any) -> None:
    """Wrap both ways into moto's backends: in-process boto3 calls and the HTTP endpoint."""
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    process_request = original(BotocoreStubber, "process_request")
    serve = original(DomainDispatcherApplication, "__call__")

    def locked_process_request(self: Any, request: Any) -> Any:
        with DISPATCH_LOCK:
            return process_request(self, request)

    def locked_call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        _read_body_first(environ)
        with DISPATCH_LOCK:
            body = serve(self, environ, start_response)
            try:  # the body is produced inside the lock too: it reads the backend
                return [b"".join(body)]
            finally:
                if hasattr(body, "close"):
                    body.close()

    replace(BotocoreStubber, "process_request", locked_process_request)
    replace(DomainDispatcherApplication, "__call__", locked_call)


def _read_body_first(environ: dict[str, Any]) -> None:
    """Take the whole request body off the socket before the lock: a slow sender must not hold it."""
    import io

    stream = environ.get("wsgi.input")
    if stream is None:
        return
    length = environ.get("CONTENT_LENGTH")
    if length:
        data = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):  # chunked: werkzeug ends the stream with the body
        data = stream.read()
    else:
        return
    environ["wsgi.input"] = io.BytesIO(data)


#: (module[:class], attribute) -> SHA-256 of moto's source when this patch was written (moto 5.2.5); the
#: canary test fails when an upgrade changes any of them.
RECORDED: dict[tuple[str, str], str] = {
    (
        "moto.core.botocore_stubber:BotocoreStubber",
        "process_request",
    ): "f79a1a778c7e755f0c7f234cdab9e36312ed2b16d7051baf06b04872f79dd5b2",
    (
        "moto.moto_server.werkzeug_app:DomainDispatcherApplication",
        "__call__",
    ): "7b12179deceda48da3436e5e5d98f2c368344f1907c849f70b08da1ff367bef6",
}
