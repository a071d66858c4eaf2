"""Not a patch: keep a long-running local stack flat in memory.

moto keeps every execution (with its full event history and environment) in ``state_machine.executions``
for the life of the backend, and appends every worker thread it starts to
``moto.stepfunctions.parser.utils.TMP_THREADS`` without ever removing it. Finished ``Thread`` objects are
small (``run`` drops its target), but the list and the executions grow without bound. And every instance
of a moto model (``BaseModel``) is appended to its class's ``instances_tracked`` for good: each DynamoDB
``Item`` a read or write copies (about 60 a job), each S3 key ever replaced. The stack's janitor calls
these three every 30 s.
"""

from __future__ import annotations

import sys
from datetime import UTC

from .bookkeeping import LOCK


def prune_finished_threads() -> int:
    """Drop finished threads from moto's never-emptied ``TMP_THREADS`` list; returns how many."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    with LOCK:
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
    with LOCK:
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


#: References to an instance that only its tracking list holds, inside the sweep: the list's slot, the
#: loop's variable and getrefcount's own argument.
_ONLY_TRACKED = 3


def forget_unreferenced_models() -> int:
    """Drop the model instances only moto's tracking lists still hold (so they can be freed); returns how many.

    moto reads these lists only to list or reset models (its own API, test resets), never to serve a request.
    """
    from moto.core.base_backend import model_data

    dropped = 0
    with LOCK:
        for models in model_data.values():
            for model in models.values():
                tracked = model.__dict__.get("instances_tracked")
                if not tracked:
                    continue
                kept = [instance for instance in tracked if sys.getrefcount(instance) > _ONLY_TRACKED]
                dropped += len(tracked) - len(kept)
                tracked[:] = kept
    return dropped
