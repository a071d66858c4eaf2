"""Small functions for tests/integration/local/test_runtime.py: each shows one part of Lambda's contract.

They run in the local Lambda runtime's execution environments (worker processes); what they saw goes to
``records`` (files the test process reads).
"""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path
from typing import Any

from tests.integration.local import records

#: The last event this environment was given: module state, private to one environment.
STORED: dict[str, Any] = {}


def remember(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Keep the event in module state, sleep, and return what is kept: another invocation in this
    environment meanwhile would have replaced it."""
    STORED.clear()
    STORED.update(event)
    records.record("remember", pid=os.getpid(), id=event["id"], phase="start")
    time.sleep(float(event.get("sleep", 0.1)))
    records.record("remember", pid=os.getpid(), id=event["id"], phase="end")
    return {"stored": dict(STORED), "pid": os.getpid()}


def gate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Hold the environment until the test opens the gate (a file), so the test sees how many run at once."""
    records.record(f"gate-{event['gate']}", pid=os.getpid(), phase="start")
    opened = Path(os.environ[records.ENV]) / f"open-{event['gate']}"
    deadline = time.monotonic() + 60
    while not opened.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"pid": os.getpid()}


def whoami(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """What the environment was given: pid, the template's variables, handler, and the Lambda context."""
    if event.get("sleep"):
        time.sleep(float(event["sleep"]))
    return {
        "pid": os.getpid(),
        "greeting": os.environ.get("GREETING"),
        "handler": os.environ.get("_HANDLER"),
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "threads": {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "OPENCV_FOR_THREADS_NUM")},
    }


def allocate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Allocate ``mb`` MB and touch every page (resident), then hold it a while."""
    block = bytearray(int(event["mb"]) << 20)
    for offset in range(0, len(block), 4096):
        block[offset] = 1
    time.sleep(float(event.get("hold", 0)))
    return {"allocated_mb": len(block) >> 20, "pid": os.getpid()}


def crash(event: dict[str, Any], context: Any) -> None:
    """Die the way native code or a careless handler does."""
    if event["how"] == "exit":
        os._exit(3)
    ctypes.string_at(0)  # a segfault in native code


def fail(event: dict[str, Any], context: Any) -> None:
    """Always fail, recording each attempt (the async retry test counts them)."""
    records.record("fail", request_id=context.aws_request_id, id=event["id"])
    raise RuntimeError(f"attempt failed for {event['id']}")


def hammer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Grow and shrink (in place) and read large items of one partition as fast as possible; the errors met.

    moto iterates an item's attributes to answer a read: a write between two steps of that iteration is
    what raised ``RuntimeError: dictionary changed size during iteration`` before the dispatch lock.
    """
    import boto3

    ddb = boto3.client("dynamodb")
    table, writer, errors = event["table"], int(event["writer"]), []
    padding = {f"p{k}": {"S": "x" * 8} for k in range(100)}
    for i in range(int(event["rounds"])):
        key = {"pk": {"S": "shared"}, "sk": {"S": f"item-{i % 2}"}}
        new, old = [f"w{writer}r{i}k{k}" for k in range(10)], [f"w{writer}r{i - 2}k{k}" for k in range(10)]
        names = {f"#n{k}": n for k, n in enumerate(new)} | {f"#o{k}": o for k, o in enumerate(old)}
        values = {f":v{k}": {"S": str(i)} for k in range(10)}
        sets = ", ".join(f"#n{k} = :v{k}" for k in range(10))
        if i < 2:
            ddb.put_item(TableName=table, Item={**key, **padding})
        update = {
            "Key": key,
            "UpdateExpression": f"SET {sets} REMOVE " + ", ".join(f"#o{k}" for k in range(10)),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        query = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "shared"}}}
        for operation, kwargs in (("update_item", update), ("get_item", {"Key": key}), ("query", query)):
            try:
                getattr(ddb, operation)(TableName=table, **kwargs)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
    return {"errors": errors}
