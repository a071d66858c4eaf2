"""P13: a JSONPath is parsed once, not at every use.

moto's Step Functions interpreter parses a state's JSONPath (``InputPath``, ``Parameters`` values,
``ResultPath``) each time a state runs, and EventBridge parses each input path of a target's
``InputTransformer`` at each event. ``jsonpath_ng``'s ``parse`` builds a new PLY parser every call,
so in an engine batch these parses were ~6% of the stack process's interpreter time: a handful of
distinct paths parsed thousands of times. A parsed path is an immutable expression tree (``find``
and ``update_or_create`` change only the data they are given), so one parse per path string serves
every thread. The cache is bounded; what a path means is unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .bookkeeping import original, replace

#: (module[:class], attribute) -> SHA-256 of moto's source when this patch was written (moto 5.2.5): the
#: callers whose module-level ``parse`` is replaced; the canary test fails when an upgrade changes them.
RECORDED: dict[tuple[str, str], str] = {
    (
        "moto.stepfunctions.parser.asl.utils.json_path",
        "extract_json",
    ): "932245247973780c72287b75597e70031472f0cd764f35a199100d8a195987a4",
    (
        "moto.stepfunctions.parser.asl.component.common.path.result_path:ResultPath",
        "_eval_body",
    ): "a6d93b4e5a332fadf256032411a32a39e24fdbf8080462c6c037bfe11c195081",
    (
        "moto.events.utils:EventTemplateParser",
        "parse",
    ): "40a5a46a321811bb2643aaabb7b45c37f75644fcce9cb95524e729a43f0d97d7",
}

#: distinct path strings kept; a stack's state machines and rules have a few hundred at most
CACHE_SIZE = 4096


def memoized(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """`parse` once per path string (the path objects are shared read-only)."""
    return functools.lru_cache(maxsize=CACHE_SIZE)(parse)


def patch_parsed_paths() -> None:
    """P13: moto's JSONPath users share one parse per path."""
    import jsonpath_ng.ext
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    # EventTemplateParser.parse imports `parse` from jsonpath_ng.ext at each call: the package's name
    replace(jsonpath_ng.ext, "parse", memoized(original(jsonpath_ng.ext, "parse")))
    replace(json_path, "parse", memoized(original(json_path, "parse")))
    replace(result_path, "parse", memoized(original(result_path, "parse")))
