"""`swapflow`: tenants and API keys (`swapflow keys ...`) and face swaps from the shell (`swapflow swap`).

Each subcommand is one `_cmd_*` function that adds its parser and sets `run`; COMMANDS lists them, so a
new subcommand is one function and one line. Importing this module needs nothing beyond the stdlib:
`keys` imports boto3 when it runs, `swap` is `swapflow.Client`.

`keys`, `retention` and `audit` talk to the stack's AWS resources directly (swapflow/cli_admin.py);
`jobs delete` uses the API and `verify` checks a file's C2PA credentials offline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from .cli_admin import _cmd_audit, _cmd_keys, _cmd_retention, command_actions
from .cli_errors import CliError, aws_error_message
from .images import EXTENSIONS
from .jobs.exceptions import DomainError

if TYPE_CHECKING:
    from .client import Job


LOCAL_API_KEY = "sf_local_dev_key"


# ---- swap ----------------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on stderr (a line per status change when stderr is not a terminal)."""

    STAGES = {"queued": 0.1, "processing": 0.3, "completed": 1.0, "failed": 1.0, "cancelled": 1.0}

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()
        self.last = ""

    def __call__(self, job: Job, elapsed: float) -> None:
        """The client's progress callback."""
        self.show(job.status, elapsed)

    def show(self, status: str, elapsed: float) -> None:
        base = self.STAGES.get(status, 0.1)
        # no provider reports a percentage: creep towards 90% while processing
        fraction = base if base >= 1 else min(0.9, base + (0.9 - base) * (1 - 0.85**elapsed))
        filled = int(fraction * self.width)
        bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {status:10} {elapsed:5.1f}s"
        if self.tty:
            self.stream.write("\r" + bar + ("\n" if base >= 1 else ""))
            self.stream.flush()
        elif status != self.last:
            self.stream.write(bar + "\n")
        self.last = status


def _output_path(out: str | None, job_id: str, content_type: str) -> Path:
    name = f"{job_id}.{EXTENSIONS.get(content_type, 'bin')}"
    if not out:
        return Path(name)
    path = Path(out)
    return path / name if path.is_dir() or out.endswith(("/", os.sep)) else path


def _metadata(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise CliError(f"--metadata must be a JSON object: {exc}", 2) from exc
    if not isinstance(value, dict):
        raise CliError("--metadata must be a JSON object, e.g. '{\"order\": 42}'", 2)
    return value


def _swap_options(args: argparse.Namespace) -> dict[str, Any]:
    """The request fields the flags name (left out when not given, so the API's defaults apply)."""
    options = {
        "provider": args.provider,
        "output_format": args.format,
        "target_index": args.target_index,
        "face_enhance": True if args.face_enhance else None,
        "metadata": _metadata(args.metadata),
        "wait": args.wait,
    }
    return {k: v for k, v in options.items() if v is not None}


def _swap(args: argparse.Namespace, out: TextIO) -> int:
    from .client import Client, JobFailedError, SwapflowError

    client = Client(api_key=args.key, base_url=args.api, sleep=time.sleep)
    try:
        if args.detach:
            job = client.submit(args.source, args.target, **_swap_options(args))
            print(json.dumps(job.raw), file=out)
            return 0
        job = client.swap(
            args.source,
            args.target,
            progress=Progress(sys.stderr),
            timeout=args.timeout,
            interval=args.interval,
            **_swap_options(args),
        )
        output = job.output
        assert output is not None  # a completed job has its output
        path = _output_path(args.out, job.id, output.content_type)
        client.download(job, path)
    except JobFailedError as exc:
        raise CliError(f"job {exc.job.id} {exc.job.status}: {exc.code}: {exc.message}") from exc
    except SwapflowError as exc:
        status = f"HTTP {exc.status} " if exc.status else ""
        field = f" ({exc.field})" if exc.field else ""
        raise CliError(f"{status}{exc.code}{field}: {exc.message}", 2 if exc.code == "no_such_file" else 1) from exc
    print(str(path), file=out)
    return 0


def _cmd_swap(sub: Any) -> None:
    swap = sub.add_parser("swap", help="swap the face of SOURCE into TARGET and save the result")
    swap.add_argument("source", metavar="SOURCE", help="the face: a local image file, an https URL or a data: URI")
    swap.add_argument("target", metavar="TARGET", help="the photo whose face is replaced")
    swap.add_argument("--provider", help="engine (default), akool, wavespeed-akool, wavespeed-pro or auto")
    _api_options(swap)
    swap.add_argument("--out", help="output file or folder (default: ./<job id>.<ext>)")
    swap.add_argument("--format", choices=["jpeg", "png", "webp"], help="output format (default jpeg)")
    for flag, metavar, text in (
        ("--target-index", "N", "which face of TARGET to replace, 0.. from the left (default: the largest face)"),
        ("--wait", "SECONDS", "let the API hold the request up to SECONDS (1..25) and answer with the finished job"),
    ):
        swap.add_argument(flag, type=int, metavar=metavar, help=text)
    swap.add_argument("--face-enhance", action="store_true", help="sharpen and denoise the swapped face")
    swap.add_argument("--metadata", metavar="JSON", help="a JSON object echoed in the job and its events")
    swap.add_argument("--detach", action="store_true", help="submit only: print the accepted job as JSON")
    swap.add_argument("--timeout", type=float, default=300, help="seconds to wait for the job (default 300)")
    swap.add_argument("--interval", type=float, default=0.5, help=argparse.SUPPRESS)
    swap.set_defaults(run=_swap)


# ---- responsible use: jobs delete, verify, retention, audit (issue 17) -------------------------------


def _api_options(parser: argparse.ArgumentParser) -> None:
    """--api and --key of the commands that call the API (SWAPFLOW_API_URL, SWAPFLOW_API_KEY)."""
    from .client import default_base_url

    parser.add_argument(
        "--api",
        default=default_base_url(),
        help="the API's base URL (default: SWAPFLOW_API_URL, else the local stack on SWAPFLOW_PORT)",
    )
    parser.add_argument(
        "--key", default=os.environ.get("SWAPFLOW_API_KEY") or LOCAL_API_KEY, help="API key (SWAPFLOW_API_KEY)"
    )


def _jobs_delete(args: argparse.Namespace, out: TextIO) -> int:
    from .client import Client, SwapflowError

    client = Client(api_key=args.key, base_url=args.api)
    try:
        done = (client.delete_batch if args.batch else client.delete)(args.id, cancel=args.cancel)
    except SwapflowError as exc:
        raise CliError(f"HTTP {exc.status} {exc.code}: {exc.message}") from exc
    print(json.dumps(done), file=out)
    return 0


def _cmd_jobs(sub: Any) -> None:
    actions = command_actions(sub, "jobs", "manage jobs through the API (delete)")
    delete = actions.add_parser("delete", help="delete a job's photos (every copy and version) and personal fields")
    delete.add_argument("id", metavar="JOB_ID")
    delete.add_argument("--cancel", action="store_true", help="cancel the job first if it is still running")
    delete.add_argument("--batch", action="store_true", help="ID is a batch (or manifest) id: delete all its jobs")
    _api_options(delete)
    delete.set_defaults(run=_jobs_delete)


def _verify(args: argparse.Namespace, out: TextIO) -> int:
    from .provenance import credentials
    from .provenance.keys import CA_FILE
    from .settings import default_signing_dir

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{args.file}: no such file", 2)
    data = path.read_bytes()
    content_type = {b"\xff\xd8": "image/jpeg", b"\x89P": "image/png", b"RI": "image/webp"}.get(data[:2])
    if content_type is None:
        raise CliError(f"{args.file}: not a JPEG, PNG or WebP image", 2)
    trust = Path(args.trust) if args.trust else Path(default_signing_dir(os.environ)) / CA_FILE
    anchors = trust.read_bytes() if trust.is_file() else None
    result = credentials.verify(data, content_type, anchors)
    print(credentials.dumps(result), file=out)
    return 0 if result.intact and (anchors is None or result.state == "Trusted") else 1


def _cmd_verify(sub: Any) -> None:
    verify = sub.add_parser("verify", help="check an output's C2PA Content Credentials (exit 0: valid)")
    verify.add_argument("file", metavar="FILE")
    verify.add_argument(
        "--trust",
        help="CA certificate (PEM) to trust; default: the local stack's signing/ca.pem, if there",
    )
    verify.set_defaults(run=_verify)


# ---- sim --------------------------------------------------------------------------------------------


def _sim_run(args: Any, out: TextIO) -> int:
    from .sim.__main__ import main as sim_main

    return sim_main(args.rest, prog="swapflow sim")


def _cmd_sim(sub: Any) -> None:
    """Every argument, --help included, goes to the simulator's own parser."""
    sim = sub.add_parser(
        "sim",
        help="run a provider simulator on loopback (akool | wavespeed); see `swapflow sim --help`",
        add_help=False,
    )
    sim.set_defaults(run=_sim_run, passthrough=True)


# Each entry adds one subcommand: a new one is a `_cmd_*` function and a line here.
COMMANDS: list[Callable[[Any], None]] = [
    _cmd_keys,
    _cmd_swap,
    _cmd_sim,
    _cmd_jobs,
    _cmd_verify,
    _cmd_retention,
    _cmd_audit,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="swapflow", description="swapflow face-swap jobs")
    parser.add_argument("--version", action="version", version=f"swapflow {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """`run(args, out)` of the chosen subcommand; one that sets `passthrough` gets unknown args in `args.rest`."""
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    try:
        return int(args.run(args, out or sys.stdout))
    except CliError as exc:
        print(f"swapflow: {exc}", file=sys.stderr)
        return exc.code
    except DomainError as exc:  # e.g. no such tenant or key: one line; a malformed name (ValueError) is usage
        print(f"swapflow: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    except Exception as exc:
        message = aws_error_message(exc)
        if message is None:
            raise
        print(f"swapflow: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
