"""P7: a state machine definition is parsed once, not once per execution.

moto's Step Functions interpreter parses the ASL definition with ANTLR at the start of every execution;
on the local stack that was a sixth of the stack process's CPU under load (py-spy, 24 clients), and every
job runs at least two executions (its workflow and its client-webhook delivery). The parsed program is
a tree of evaluation components whose run-time state lives in each execution's own environment (the
"heap", keyed per component), so one tree can serve many executions, with two exceptions found by
reading moto 5.2.5: Parallel branches keep counters on their component, and Map states keep iteration
bookkeeping. Definitions with either are parsed per execution as before.

Components draw their heap key lazily; two executions drawing it at once could each get a different one.
Every key is drawn once, when the program is cached, before any execution uses it.
"""

from __future__ import annotations

import threading
from typing import Any

_CACHE: dict[str, Any] = {}
_LOCK = threading.Lock()
_LIMIT = 64
UNSHARED_STATES = ('"Parallel"', '"Map"')


def cacheable(definition: str) -> bool:
    return not any(marker in definition for marker in UNSHARED_STATES)


def _draw_heap_keys(root: Any) -> None:
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, EvalComponent):
            _ = node.heap_key
        children = vars(node).values() if hasattr(node, "__dict__") else ()
        for child in children:
            if isinstance(child, (list, tuple, set)):
                stack.extend(child)
            elif isinstance(child, dict):
                stack.extend(child.values())
            elif hasattr(child, "__dict__") and type(child).__module__.startswith("moto.stepfunctions"):
                stack.append(child)


def program_for(definition: str, parse: Any) -> Any:
    """The parsed program of `definition`, shared when that is safe."""
    if not cacheable(definition):
        return parse(definition)[0]
    with _LOCK:
        program = _CACHE.get(definition)
        if program is None:
            program = parse(definition)[0]
            _draw_heap_keys(program)
            if len(_CACHE) >= _LIMIT:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[definition] = program
        return program


def patch_parse_once(replace: Any, original: Any) -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    def _get_evaluation_entrypoint(self: Any) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        return program_for(definition, AmazonStateLanguageParser.parse)

    replace(ExecutionWorker, "_get_evaluation_entrypoint", _get_evaluation_entrypoint)


#: (module[:class], attribute) -> SHA-256 of moto's source when this patch was written (moto 5.2.5); the
#: canary test fails when an upgrade changes any of them.
RECORDED: dict[tuple[str, str], str] = {
    (
        "moto.stepfunctions.parser.backend.execution_worker:ExecutionWorker",
        "_get_evaluation_entrypoint",
    ): "2b25949ae855da8035b347b28ac72f90d7d6542bf26ef7e1f03a50ce6a981fde",
}
