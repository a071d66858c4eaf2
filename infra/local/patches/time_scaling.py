"""T1: time scaling for tests only: Wait, TimeoutSeconds(Path), HeartbeatSeconds(Path) and Retry intervals.

Values that travel in the execution *data* are not scaled: a handler that reads e.g. ``$.pollSeconds``
(the same number a ``TimeoutSecondsPath`` points at) sees the unscaled value, so its own poll interval is
unchanged while the state's timeout is shrunk. The state machine's top-level ``TimeoutSeconds`` is not scaled.
"""

from __future__ import annotations

import time
from typing import Any

from .bookkeeping import LOCK, replace

#: (module[:class], attribute) -> SHA-256 of moto's source when this patch was written (moto 5.2.5); the
#: canary test fails when an upgrade changes any of them.
RECORDED: dict[tuple[str, str], str] = {
    (
        "moto.stepfunctions.parser.asl.component.common.timeouts.timeout:Timeout",
        "_eval_body",
    ): "5c5f336e8ba14d64e058d2c73f680c1f946ba37ccc93b58867f8f8196512afe1",
    (
        "moto.stepfunctions.parser.asl.component.common.timeouts.heartbeat:Heartbeat",
        "_eval_body",
    ): "5c5f336e8ba14d64e058d2c73f680c1f946ba37ccc93b58867f8f8196512afe1",
    (
        "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function:WaitFunction",
        "_wait_interval",
    ): "8f954dee80372b4b8233918f4d94810949f402cb3ddd2361ef4cbd9719d02253",
    (
        "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl:RetrierDecl",
        "_eval_body",
    ): "48463fff19cefa98cfb054311706ba47abfe813da0e65ce1a6376a9101f35f09",
}


_TIME_SCALE = 1.0


def time_scale() -> float:
    """The current time scale (1.0 unless a test asked for less)."""
    return _TIME_SCALE


def set_time_scale(scale: float) -> None:
    """Change the scale (``apply_all(time_scale=...)`` calls this; later calls may change it again)."""
    global _TIME_SCALE
    if scale <= 0:
        raise ValueError("time_scale must be > 0")
    _TIME_SCALE = float(scale)


def _scaled(seconds: float) -> float:
    return seconds * _TIME_SCALE


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

    replace(Timeout, "_eval_body", timeout_eval_body)
    replace(Heartbeat, "_eval_body", heartbeat_eval_body)
    replace(WaitFunction, "_wait_interval", wait_interval)
    with LOCK:
        if not isinstance(retrier_decl.time, _ScaledTime):
            replace(retrier_decl, "time", _ScaledTime())
