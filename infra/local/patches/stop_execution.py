"""P3: StopExecution interrupts the token waits at once and ABORTED stays final."""

from __future__ import annotations

import datetime
import time
from typing import Any

from .bookkeeping import original, replace

#: (module[:class], attribute) -> SHA-256 of moto's source when this patch was written (moto 5.2.5); the
#: canary test fails when an upgrade changes any of them.
RECORDED: dict[tuple[str, str], str] = {
    (
        "moto.stepfunctions.parser.backend.execution:Execution",
        "stop",
    ): "16663c65db9a2f964cf64a120175dffa68489dc6c8a664b4e6e47700938ee2e0",
    (
        "moto.stepfunctions.parser.asl.eval.environment:Environment",
        "set_error",
    ): "6447409d405612c0e642e5e7d1942f8b48298485b7cb23630a18c78392f633d2",
    (
        "moto.stepfunctions.parser.asl.eval.environment:Environment",
        "set_timed_out",
    ): "853b04bf9e6a7db4687e0d88655c994a25930544fcf35f8245d0130c217dd5fb",
    (
        "moto.stepfunctions.parser.asl.eval.environment:Environment",
        "set_stop",
    ): "163c10d46b1cb9b5acc34268858aafc6772a2401d1f56edcfbd832d51b3f3aa1",
    (
        "moto.stepfunctions.parser.backend.execution:BaseExecutionWorkerCommunication",
        "_reflect_execution_status",
    ): "038a396107afe59b6db55d26f755d9b8358762e53f7fa67c1a78fd09fdd5218a",
    (
        "moto.stepfunctions.parser.asl.eval.callback.callback:CallbackEndpoint",
        "interrupt_all",
    ): "d5b1c5de4a0b4fe9a1edd940a6ca4f453d8b56fb0e4619b559ead47c651e5029",
}


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

    replace(Execution, "stop", stop)
    replace(Environment, "set_error", set_error)
    replace(Environment, "set_timed_out", set_timed_out)

    # _reflect_execution_status would replace the stop date with the time the worker noticed.
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    orig_reflect = original(BaseExecutionWorkerCommunication, "_reflect_execution_status")

    def _reflect_execution_status(self: Any) -> None:
        stopped_at = self.execution.stop_date if self.execution.exec_status == ExecutionStatus.ABORTED else None
        orig_reflect(self)
        if stopped_at is not None:
            self.execution.stop_date = stopped_at

    replace(BaseExecutionWorkerCommunication, "_reflect_execution_status", _reflect_execution_status)
