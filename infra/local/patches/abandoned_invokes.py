"""P10: a Lambda invocation that a Step Functions task has stopped waiting for is dropped before it starts.

moto runs a task with a timeout in a thread of its own and, when the timeout passes, moves on (Retry,
Catch) but leaves that thread running. A ``.waitForTaskToken`` task whose invocation is still queued
for a busy function's execution environment then gets retried while the old invocation waits on, and
runs later to no purpose. Under load every retry adds one more queued invocation (the local runtime
queues where AWS would throttle): thousands of threads and a stack that never catches up. In AWS the
invocation would have started at once or been throttled; it never runs once its task has timed out.
So the task's invocation is made "while its frame runs" (``caller_waits_while``): a queued one is
dropped when the frame ends (timeout, a stopped execution). One already running finishes, as in AWS.
"""

from __future__ import annotations

from typing import Any

from .bookkeeping import original, replace

#: (module[:class], attribute) -> SHA-256 of moto's source when this patch was written (moto 5.2.5); the
#: canary test fails when an upgrade changes any of them.
RECORDED: dict[tuple[str, str], str] = {
    (
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda:StateTaskServiceLambda",
        "_eval_service_task",
    ): "4a98c28eba36e5afc0ece06c97af9af4e07ff056f9cb5c12dca11cb721290efa",
    (
        "moto.stepfunctions.parser.asl.component.state.exec.execute_state:ExecutionState",
        "_evaluate_with_timeout",
    ): "c56deda08a42e98d3958bfb2ab95de74c7ec7a515085614a80e1ea4948722485",
}


def patch_abandoned_invokes() -> None:
    """P10: a Lambda task's invocation waits for an execution environment only while its frame runs."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
        StateTaskServiceLambda,
    )

    from ..runtime.environments import caller_waits_while

    inherited = original(StateTaskServiceLambda, "_eval_service_task")

    def _eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        with caller_waits_while(env.is_running):
            return inherited(self, env, *args, **kwargs)

    replace(StateTaskServiceLambda, "_eval_service_task", _eval_service_task)
