"""P9: what moto spends on every request, cut where the answer cannot change (measured in bench/batch.py).

A profile of the stack process during an engine batch (cProfile on thread CPU time, every thread) put
about nine tenths of its CPU in serving AWS requests, and three costs there repeat on every request
with the same result each time:

* ``moto.backends.list_of_moto_modules`` lists moto's package directory and stats each of its ~170
  entries, twice per request (``DomainDispatcherApplication.get_backend_for_host``): the directory
  does not change while the process runs, so it is read once;
* ``moto.core.utils.method_names_from_class`` runs ``inspect.getmembers`` over the response class on
  every ``call_action``: a class's methods are listed once per class;
* the JSON serializer walks DynamoDB's ``AttributeValue`` shape member by member for every attribute
  of every item (ten members, each through five alias providers), although moto's item JSON already
  has the wire form. A plain value (one of S, N, BOOL, NULL, SS, NS, M, L, nested the same way) is
  written as the serializer would write it; anything else (binary, DynamoType objects, no or several
  type keys) goes the original way. tests/integration/local/test_fast_dispatch.py checks both give
  the same bytes;
* the state machine interpreter builds a new boto3 client (``boto_client_for``) for every Lambda
  task, service integration and ItemReader read, some milliseconds each: one client per region and
  service is kept and shared (boto3 clients are thread-safe; the function ignores its credentials).
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from typing import Any

#: The moto sources this patch replaces, as they were when it was written (the canaries compare).
RECORDED: dict[tuple[str, str], str] = {
    ("moto.stepfunctions.parser.asl.utils.boto_client", "boto_client_for"): (
        "1f44dc2ac8aa2179df62365a6e5ea377f1770ea828a0f107440a2554f1b4edb8"
    ),
    ("moto.backends", "list_of_moto_modules"): "4f741a10b06500e840c3aaa1b4f02706e6f2bfbababc0e8a2a7b9c9d0e8957dc",
    ("moto.core.utils", "method_names_from_class"): "9dbac89d082b655fee902c450e69de9dbadf9699ad06411298494984b55138c3",
    (
        "moto.core.serialize:BaseJSONSerializer",
        "_serialize_type_structure",
    ): "36873909cd0aeb4defa91cc9912c6e90a62d7d92ced6150ac7de92fd10a81967",
}

#: The interpreter's modules that call ``boto_client_for`` (each bound the name when imported).
CLIENT_USERS = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_factory",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
)

_STRINGS = frozenset({"S", "N"})
_STRING_SETS = frozenset({"SS", "NS"})
_FLAGS = frozenset({"BOOL", "NULL"})


def _string(value: Any) -> Any:
    """What the serializer writes for a string member (``_serialize_type_string``)."""
    return str(value) if value not in (None, {}, []) else value


def attribute_value_wire(value: Any) -> Any:
    """The wire form of one AttributeValue, or None when it is not a plain one (the slow path decides)."""
    if type(value) is not dict or len(value) != 1:
        return None
    ((kind, inner),) = value.items()
    if kind in _STRINGS:
        return {kind: _string(inner)} if type(inner) in (str, int, float) else None
    if kind in _FLAGS:
        return {kind: inner} if type(inner) is bool else None
    if kind in _STRING_SETS:
        if type(inner) is not list or any(type(v) not in (str, int, float) for v in inner):
            return None
        return {kind: [_string(v) for v in inner]}
    if kind == "M":
        if type(inner) is not dict:
            return None
        members = {}
        for name, member in inner.items():
            wire = attribute_value_wire(member)
            if wire is None:
                return None
            members[name] = wire
        return {"M": members}
    if kind == "L":
        if type(inner) is not list:
            return None
        items = []
        for member in inner:
            wire = attribute_value_wire(member)
            if wire is None:
                return None
            items.append(wire)
        return {"L": items}
    return None  # B, BS: blobs are base64-encoded by the serializer's own rules


def patch_fast_dispatch(replace: Callable[[Any, str, Any], Any]) -> None:
    import moto.backends
    import moto.core.responses
    from moto.core.serialize import BaseJSONSerializer

    modules = tuple(moto.backends.list_of_moto_modules())

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    replace(moto.backends, "list_of_moto_modules", list_of_moto_modules)

    names_of = moto.core.responses.method_names_from_class
    by_class: dict[type, list[str]] = {}
    lock = threading.Lock()

    def method_names_from_class(clazz: Any) -> list[str]:
        names = by_class.get(clazz)
        if names is None:
            names = names_of(clazz)
            with lock:
                by_class[clazz] = names
        return list(names)

    replace(moto.core.responses, "method_names_from_class", method_names_from_class)

    serialize_structure = BaseJSONSerializer.__dict__["_serialize_type_structure"]

    def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if shape.name == "AttributeValue" and key:
            wire = attribute_value_wire(value)
            if wire is not None:
                serialized[self.get_serialized_name(shape, key)] = wire
                return
        serialize_structure(self, serialized, value, shape, key)

    replace(BaseJSONSerializer, "_serialize_type_structure", _serialize_type_structure)
    _share_interpreter_clients(replace)


def _share_interpreter_clients(replace: Callable[[Any, str, Any], Any]) -> None:
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.utils import boto_client

    for name in CLIENT_USERS:
        importlib.import_module(name)
    build = boto_client.boto_client_for
    clients: dict[tuple[str, str, bool, int], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service, bool(botocore_stubber.enabled), int(moto_server_port()))
        with lock:
            client = clients.get(key)
            if client is None:
                client = clients[key] = build(region, service, state_credentials)
        return client

    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is build:
            replace(module, "boto_client_for", boto_client_for)
