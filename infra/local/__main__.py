"""`python -m infra.local up|demo|template`: run the whole stack locally (see README)."""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .embedded import PortInUseError
from .persistence import DataDirBusyError
from .runner import ROOT, STOP_SECONDS, LocalConfig, LocalStack, serve_forever, stop_within, synthesize

FIXTURES = ROOT / "tests" / "fixtures" / "images"


def terminal_events(job_id: str, log_group: str = "/aws/events/swapflow") -> list[dict[str, Any]]:
    """The events the stack emitted for a job, read back from the bus's audit log group."""
    import boto3

    logs = boto3.client("logs")
    found = []
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=log_group):
        for record in page.get("events", []):
            event = json.loads(record["message"])
            if event.get("detail", {}).get("job", {}).get("id") == job_id:
                found.append(event)
    return found


def demo(stack: LocalStack) -> int:
    from .client import ApiClient, data_uri, download

    api = ApiClient(stack.api_url, stack.config.api_key)
    print(f"local stack up: API {stack.api_url}, AWS endpoint {stack.aws_url}")
    body = {
        "source_image": data_uri(FIXTURES / "source.jpg"),
        "target_image": data_uri(FIXTURES / "target.jpg"),
        "metadata": {"demo": True},
    }
    accepted = api.submit(body)
    print(f"POST /v1/jobs -> {accepted['status']} {accepted['id']}")
    started = time.monotonic()
    job = api.wait(accepted["id"])
    print(f"job {job['status']} in {time.monotonic() - started:.2f} s")
    print(json.dumps(job, indent=2))
    if job["status"] != "completed":
        return 1
    output = job["outputs"][0]
    out_dir = ROOT / "out"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"demo-{job['id']}{Path(output['key']).suffix}"
    path.write_bytes(download(output["url"]))
    print(f"archived output: s3://{output['bucket']}/{output['key']}")
    print(f"local copy: {path}")
    for _ in range(50):
        events = terminal_events(job["id"])
        if events:
            break
        time.sleep(0.1)
    print("EventBridge event:")
    print(json.dumps(events, indent=2))
    return 0


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _demo_ports(config: LocalConfig) -> None:
    """The demo runs beside `make up`: where a default port is taken, it takes a free one and says so."""
    for attr, variable in (("port", "SWAPFLOW_PORT"), ("aws_port", "SWAPFLOW_AWS_PORT")):
        port = getattr(config, attr)
        if port and not _port_free(config.host, port):
            print(f"port {port} is in use ({variable}; another `make up`?): the demo uses a free port instead")
            setattr(config, attr, 0)


def banner(summary: dict[str, Any]) -> str:
    width = max(len(name) for name in summary) + 2
    lines = ["swapflow local stack is up (Ctrl-C stops it)"]
    lines += [f"  {name:{width}}{value}" for name, value in summary.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local")
    parser.add_argument("command", choices=["up", "demo", "template"])
    parser.add_argument("--port", type=int, default=None, help="API port (SWAPFLOW_PORT, 8000; 0: any free port)")
    parser.add_argument("--aws-port", type=int, default=None, help="AWS endpoint port (SWAPFLOW_AWS_PORT, 4566)")
    parser.add_argument("--data-dir", default=None, help="up: where data is kept (SWAPFLOW_DATA_DIR, .swapflow/)")
    parser.add_argument("--fresh", action="store_true", help="up: wipe the data directory first")
    parser.add_argument("--ephemeral", action="store_true", help="up: keep nothing across restarts")
    parser.add_argument("--out", default=None, help="template: where to write the JSON")
    args = parser.parse_args(argv)

    if args.command == "template":
        text = json.dumps(synthesize())
        Path(args.out).write_text(text) if args.out else print(text)
        return 0
    if args.command == "demo":
        # The demo prints its own story; the handlers' JSON logs and metrics would bury it.
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    config = LocalConfig.from_env()
    if args.port is not None:
        config.port = args.port
    if args.aws_port is not None:
        config.aws_port = args.aws_port
    if args.command == "demo" or args.ephemeral:
        config.data_dir = None  # the demo is a fresh stack every time, beside any `make up`
    elif args.data_dir:
        config.data_dir = Path(args.data_dir)
    config.fresh = args.fresh
    if args.command == "demo":
        _demo_ports(config)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    # `kill -USR1 <pid>` prints every thread's stack to the terminal: what a stuck stack is waiting on
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        stack = LocalStack(config).start()
    except (PortInUseError, DataDirBusyError) as exc:
        print(f"swapflow: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if args.command == "demo":
        code = 130
        try:
            code = demo(stack)
        except KeyboardInterrupt:
            pass
        finally:
            stop_within(stack, STOP_SECONDS, code)  # bounded, as `make up`'s Ctrl-C
    summary = stack.summary()
    print(banner(summary))
    if stack.restored.items or stack.restored.objects:
        print(f"  kept from {config.data_dir}: {stack.restored.items} records, {stack.restored.objects} objects")
    if stack.interrupted:
        print(f"  {len(stack.interrupted)} job(s) in flight at the last stop ended failed/interrupted")
    print("READY " + json.dumps(summary), flush=True)
    serve_forever(stack)
    return 0


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    """`kill` (and the e2e fixtures' terminate) stops the stack as Ctrl-C does: saved, quietly."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
