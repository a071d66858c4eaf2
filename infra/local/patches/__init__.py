"""Patches that make moto 5.2.5 run the swapflow stack in-process, like AWS would: one module per patch.

Every patch module says why it exists, installs itself through ``bookkeeping.replace`` (which keeps
moto's original) and lists in ``RECORDED`` the SHA-256 of each moto function it replaces or relies on,
as it was when the patch was written. The canary tests (``tests/integration/local/test_moto_canaries.py``
for ``recorded_sources()``, ``test_item_reader_patch.py`` for P8) fail when a moto upgrade changes any of
them, so that a patch is re-checked rather than silently wrong. ``apply_all()`` installs them all, in
the order of ``PATCHES``, and is idempotent.

Nothing here is used in AWS: these patches only ever touch moto's in-memory models.

Time scaling (``apply_all(time_scale=...)``, tests only): see ``time_scaling`` (T1).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from types import ModuleType

from . import (
    abandoned_invokes,
    events_targets,
    fast_dispatch,
    fresh_task_token,
    item_reader,
    lambda_runtime,
    parsed_definitions,
    parsed_paths,
    partition_query,
    s3_notifications,
    s3_spill,
    serialized_aws,
    start_execution_name,
    stop_execution,
    task_callbacks,
    time_scaling,
)
from .bookkeeping import LOCK, applied, apply_once, original, replace, source_sha256, suspended

__all__ = ["MOTO_VERSION", "PATCHES", "applied", "apply_all", "recorded_sources", "source_sha256", "suspended"]

LOG = logging.getLogger(__name__)

MOTO_VERSION = "5.2.5"

#: patch id -> (its module, the call that installs it), in the order ``apply_all`` runs them.
PATCHES: dict[str, tuple[ModuleType, Callable[[], None]]] = {
    "P0": (serialized_aws, functools.partial(serialized_aws.patch_serialized_dispatch, replace, original)),
    "P1": (lambda_runtime, lambda_runtime.patch_lambda_runtime),
    "P1b": (s3_notifications, s3_notifications.patch_s3_notifications_async),
    "P2": (start_execution_name, start_execution_name.patch_start_execution_name),
    "P3": (stop_execution, stop_execution.patch_stop_execution),
    "P4": (events_targets, events_targets.patch_events_targets),
    "P5": (fresh_task_token, fresh_task_token.patch_fresh_task_token_on_retry),
    "P6": (task_callbacks, task_callbacks.patch_task_callbacks),
    "P7": (parsed_definitions, functools.partial(parsed_definitions.patch_parse_once, replace, original)),
    "T1": (time_scaling, time_scaling.patch_time_scaling),
    "P8": (item_reader, item_reader.apply),
    "P9": (fast_dispatch, functools.partial(fast_dispatch.patch_fast_dispatch, replace)),
    "P10": (abandoned_invokes, abandoned_invokes.patch_abandoned_invokes),
    "P11": (s3_spill, s3_spill.patch_s3_spill),
    "P12": (partition_query, partition_query.patch_partition_query),
    "P13": (parsed_paths, parsed_paths.patch_parsed_paths),
}


def _check_version() -> None:
    import moto

    if moto.__version__ != MOTO_VERSION:
        LOG.warning(
            "moto %s is not the version these patches were written for (%s): run the canary tests",
            moto.__version__,
            MOTO_VERSION,
        )


def apply_all(*, time_scale: float = 1.0, only: tuple[str, ...] | None = None) -> None:
    """Apply all patches (idempotent); ``time_scale`` may be changed by a later call.

    ``only`` restricts to some patch ids (for the canaries' with/without comparisons).
    """
    with LOCK:
        time_scaling.set_time_scale(time_scale)
        _check_version()
        for patch_id, (_, patch) in PATCHES.items():
            if only is None or patch_id in only:
                apply_once(patch_id, patch)


def recorded_sources() -> dict[tuple[str, str], tuple[str, str]]:
    """``(module[:class], attribute) -> (patch id, recorded SHA-256)`` over the patches that hash with
    ``source_sha256`` (P8 keeps its own originals and its own canary)."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for patch_id, (module, _) in PATCHES.items():
        if module is item_reader:
            continue
        for key, digest in module.RECORDED.items():
            out[key] = (patch_id, digest)
    return out
