"""P5: each attempt of a retried ``.waitForTaskToken`` task gets its own token, as in AWS."""

from __future__ import annotations

from typing import Any

from .bookkeeping import original, replace

#: (module[:class], attribute) -> SHA-256 of moto's source when this patch was written (moto 5.2.5); the
#: canary test fails when an upgrade changes any of them.
RECORDED: dict[tuple[str, str], str] = {
    (
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback:StateTaskServiceCallback",
        "_eval_execution",
    ): "81a8da94bfdb59ff86e77e39aa16ccec4d2ad3654e26bfe5d06e65b5e0769242",
    (
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback:StateTaskServiceCallback",
        "_eval_body",
    ): "1565ede7010df6af128057e199741623fe7d813996476dea3b2f9d647a1d9ab4",
    (
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback:StateTaskServiceCallback",
        "_eval_integration_pattern",
    ): "3b97ada1d4cb7280415bb9d160896565d4a520e56b5b85a0f42e42e6538c0ce9",
}


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

    replace(StateTaskServiceCallback, "_eval_execution", _eval_execution)
