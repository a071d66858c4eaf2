"""P6: SendTaskSuccess/Failure/Heartbeat for an unknown or closed token fail as in AWS."""

from __future__ import annotations

from typing import Any

from .bookkeeping import replace

#: (module[:class], attribute) -> SHA-256 of moto's source when this patch was written (moto 5.2.5); the
#: canary test fails when an upgrade changes any of them.
RECORDED: dict[tuple[str, str], str] = {
    (
        "moto.stepfunctions.parser.models:StepFunctionsParserBackend",
        "send_task_success",
    ): "2e95c66f0d676001a8c7b2e9b5b43972c0419af46a28f49842c81f0405bfc402",
    (
        "moto.stepfunctions.parser.models:StepFunctionsParserBackend",
        "send_task_failure",
    ): "2d5a9597cf1d92f9cb4bc47b3b6ae48a0fe5d3c72e20b3cc57afdeabfcddd5ca",
    (
        "moto.stepfunctions.parser.models:StepFunctionsParserBackend",
        "send_task_heartbeat",
    ): "279ad79cd7a2f24b6971a61a7924c092b4684bfa25fdb4b36ad922140c2917de",
    (
        "moto.stepfunctions.responses:StepFunctionResponse",
        "send_task_failure",
    ): "f0fed5e805768377c3886da87839f8dc3ea37bdaa5a64bab13da2784b5e00304",
}


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

    replace(StepFunctionsParserBackend, "send_task_success", send_task_success)
    replace(StepFunctionsParserBackend, "send_task_failure", send_task_failure)
    replace(StepFunctionsParserBackend, "send_task_heartbeat", send_task_heartbeat)
    replace(StepFunctionResponse, "send_task_failure", response_send_task_failure)
