"""P2: StartExecution without a name gets a UUID, as in AWS."""

from __future__ import annotations

import uuid
from typing import Any

from .bookkeeping import original, replace

#: (module[:class], attribute) -> SHA-256 of moto's source when this patch was written (moto 5.2.5); the
#: canary test fails when an upgrade changes any of them.
RECORDED: dict[tuple[str, str], str] = {
    (
        "moto.stepfunctions.parser.models:StepFunctionsParserBackend",
        "start_execution",
    ): "0f8d9dd57baf0c2803dda23c5250b1c787a4a1a3d05239cafbddff1ef905be3a",
}


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

    replace(StepFunctionsParserBackend, "start_execution", start_execution)
