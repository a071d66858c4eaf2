"""`swapflow`: tenants and API keys (`swapflow keys ...`) and face swaps from the shell (`swapflow swap`).

Each subcommand is one `_cmd_*` function that adds its parser and sets `run`; COMMANDS lists them, so a
new subcommand is one function and one line. Importing this module needs nothing beyond the stdlib:
`keys` imports boto3 when it runs, `swap` is `swapflow.Client`.

`keys` talks to the jobs table directly: `--table NAME`, else SWAPFLOW_TABLE, else the `TableName`
output of the CloudFormation stack (`--stack`, default Swapflow). `--endpoint-url` (default
SWAPFLOW_AWS_ENDPOINT) points it at the local stack's AWS endpoint, where the table is found by name.

Responsible use (README): `jobs delete` (the API), `verify` (a file's C2PA credentials, offline),
`retention set|sweep` and `audit` (the table and the eraser Lambda, found like `keys` finds the table).
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

if TYPE_CHECKING:
    from .client import Job


LOCAL_API_KEY = "sf_local_dev_key"
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class CliError(Exception):
    """A failure the user can act on: printed as one line, exit status `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# ---- keys -------------------------------------------------------------------------------------------


def _aws_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", help="the jobs table (default: SWAPFLOW_TABLE, else the stack's TableName)")
    parser.add_argument("--stack", default="Swapflow", help="CloudFormation stack to read TableName from")
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("SWAPFLOW_AWS_ENDPOINT") or None,
        help="AWS endpoint, e.g. the local stack's http://127.0.0.1:4566 (default: SWAPFLOW_AWS_ENDPOINT)",
    )
    parser.add_argument("--region", default=None, help="AWS region (default: the usual AWS settings)")


def _session_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if args.endpoint_url:
        kwargs["endpoint_url"] = args.endpoint_url
        region = region or "us-east-1"
        if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_PROFILE"):
            # the local stack's endpoint accepts any credentials; never send real ones there by default
            kwargs.update(aws_access_key_id="testing", aws_secret_access_key="testing")
    if region:
        kwargs["region_name"] = region
    return kwargs


def find_table_name(args: argparse.Namespace, cloudformation: Any, dynamodb: Any) -> str:
    """--table, SWAPFLOW_TABLE, the stack's TableName output, or (local stack) the one `<stack>-...Jobs` table."""
    name = args.table or os.environ.get("SWAPFLOW_TABLE")
    if name:
        return str(name)
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=args.stack)["Stacks"]
        for output in stacks[0].get("Outputs", []):
            if output["OutputKey"] == "TableName":
                return str(output["OutputValue"])
    except ClientError as exc:
        if not args.endpoint_url:
            raise CliError(f"cannot read stack {args.stack!r}: {exc}; pass --table") from exc
    names = [t for t in dynamodb.list_tables().get("TableNames", []) if t.startswith(f"{args.stack}-") and "Jobs" in t]
    if len(names) != 1:
        raise CliError(f"found {len(names)} jobs tables of stack {args.stack!r} at the endpoint; pass --table")
    return names[0]


def _tenants(args: argparse.Namespace) -> Any:
    import boto3

    from .storage.tenants import DynamoTenants, KmsSecretCipher, webhook_secrets_alias

    kwargs = _session_kwargs(args)
    name = find_table_name(args, boto3.client("cloudformation", **kwargs), boto3.client("dynamodb", **kwargs))
    # Webhook secrets are sealed with the stack's KMS key (its alias, infra/constructs/storage.py).
    key = os.environ.get("SWAPFLOW_WEBHOOK_SECRET_KEY") or webhook_secrets_alias(args.stack)
    cipher = KmsSecretCipher(boto3.client("kms", **kwargs), key)
    return DynamoTenants(boto3.resource("dynamodb", **kwargs).Table(name), cipher=cipher)


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(ts)) if ts else "-"


def _keys_create(args: argparse.Namespace, out: TextIO) -> int:
    from .storage.tenants import TenantNameInvalidError

    try:
        key, info, secret = _tenants(args).create_key(args.tenant)
    except TenantNameInvalidError as exc:
        raise CliError(str(exc), 2) from exc
    if args.json:
        print(
            json.dumps({"api_key": key, "key_id": info.key_id, "tenant": info.tenant, "webhook_secret": secret}),
            file=out,
        )
        return 0
    print(f"API key for tenant {info.tenant} (shown once; only its hash is stored):", file=out)
    print(f"  {key}", file=out)
    print(f"key id: {info.key_id}", file=out)
    print(f"webhook signing secret: {secret}", file=out)
    return 0


def _keys_list(args: argparse.Namespace, out: TextIO) -> int:
    tenants = _tenants(args)
    keys = sorted(tenants.list_keys(args.tenant), key=lambda k: (k.tenant, k.created_at))
    secrets = {t: tenants.tenant_secret(t) for t in {k.tenant for k in keys}} if args.show_secret else {}
    if args.json:
        rows = [
            {
                "key_id": k.key_id,
                "tenant": k.tenant,
                "prefix": k.prefix,
                "created_at": _when(k.created_at),
                "revoked_at": _when(k.revoked_at) if not k.active else None,
                **({"webhook_secret": secrets.get(k.tenant)} if args.show_secret else {}),
            }
            for k in keys
        ]
        print(json.dumps(rows), file=out)
        return 0
    if not keys:
        print("no API keys" + (f" for tenant {args.tenant}" if args.tenant else ""), file=out)
        return 0
    print(f"{'KEY ID':18} {'TENANT':20} {'PREFIX':15} {'CREATED':21} STATE", file=out)
    for k in keys:
        state = "active" if k.active else f"revoked {_when(k.revoked_at)}"
        print(f"{k.key_id:18} {k.tenant:20} {k.prefix:15} {_when(k.created_at):21} {state}", file=out)
    for tenant, secret in sorted(secrets.items()):
        print(f"webhook signing secret of {tenant}: {secret}", file=out)
    return 0


def _keys_revoke(args: argparse.Namespace, out: TextIO) -> int:
    from .storage.tenants import ApiKeyNotFoundError

    try:
        info = _tenants(args).revoke(args.key)
    except ApiKeyNotFoundError as exc:
        raise CliError(str(exc)) from exc
    print(f"revoked {info.key_id} ({info.prefix}) of tenant {info.tenant}", file=out)
    return 0


def _keys_rotate_secret(args: argparse.Namespace, out: TextIO) -> int:
    from .storage.tenants import TenantNotFoundError

    try:
        secret = _tenants(args).rotate_secret(args.tenant)
    except TenantNotFoundError as exc:
        raise CliError(str(exc)) from exc
    print(f"new webhook signing secret of {args.tenant} (deliveries are signed with it from now on):", file=out)
    print(f"  {secret}", file=out)
    return 0


def _keys_set_webhook(args: argparse.Namespace, out: TextIO) -> int:
    """The tenant's default receiver for jobs without a `webhook_url`, checked by the same SSRF guard."""
    from .net import FetchError, FetchPolicy, check_url
    from .storage.tenants import TenantNotFoundError

    url = None if args.clear else args.url
    if not url and not args.clear:
        raise CliError("give the receiver's URL, or --clear", 2)
    if url:
        local = bool(args.endpoint_url)  # the local stack: http and loopback receivers are fine
        try:
            check_url(url, FetchPolicy(allow_http=local, allow_loopback=local))
        except FetchError as exc:
            raise CliError(f"{url}: {exc.message}", 2) from exc
    try:
        _tenants(args).set_default_webhook_url(args.tenant, url)
    except TenantNotFoundError as exc:
        raise CliError(str(exc)) from exc
    print(f"default webhook of {args.tenant}: {url or '(none)'}", file=out)
    return 0


def _cmd_keys(sub: Any) -> None:
    keys = sub.add_parser("keys", help="tenants' API keys and webhook signing secrets")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="a new API key for a tenant (its first also makes its secret)")
    create.add_argument("--tenant", required=True)
    create.add_argument("--json", action="store_true", help="print one JSON object")
    create.set_defaults(run=_keys_create)
    listing = actions.add_parser("list", help="API keys (never the keys themselves)")
    listing.add_argument("--tenant")
    listing.add_argument("--show-secret", action="store_true", help="also print each tenant's webhook secret")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(run=_keys_list)
    revoke = actions.add_parser("revoke", help="revoke a key by its id, its shown prefix or the key itself")
    revoke.add_argument("key", metavar="KEY_PREFIX_OR_ID")
    revoke.set_defaults(run=_keys_revoke)
    rotate = actions.add_parser("rotate-secret", help="a new webhook signing secret for a tenant")
    rotate.add_argument("--tenant", required=True)
    rotate.set_defaults(run=_keys_rotate_secret)
    webhook = actions.add_parser("set-webhook", help="where a tenant's jobs without a webhook_url are announced")
    webhook.add_argument("--tenant", required=True)
    webhook.add_argument("url", nargs="?", metavar="URL", help="a public https URL")
    webhook.add_argument("--clear", action="store_true", help="remove the tenant's default")
    webhook.set_defaults(run=_keys_set_webhook)
    for parser in (create, listing, revoke, rotate, webhook):
        _aws_options(parser)


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
    from .client import default_base_url

    swap = sub.add_parser("swap", help="swap the face of SOURCE into TARGET and save the result")
    swap.add_argument("source", metavar="SOURCE", help="the face: a local image file, an https URL or a data: URI")
    swap.add_argument("target", metavar="TARGET", help="the photo whose face is replaced")
    swap.add_argument("--provider", help="engine (default), akool, wavespeed-akool, wavespeed-pro or auto")
    swap.add_argument(
        "--api",
        default=default_base_url(),
        help="the API's base URL (default: SWAPFLOW_API_URL, else the local stack on SWAPFLOW_PORT)",
    )
    swap.add_argument(
        "--key", default=os.environ.get("SWAPFLOW_API_KEY") or LOCAL_API_KEY, help="API key (SWAPFLOW_API_KEY)"
    )
    swap.add_argument("--out", help="output file or folder (default: ./<job id>.<ext>)")
    swap.add_argument("--format", choices=["jpeg", "png", "webp"], help="output format (default jpeg)")
    swap.add_argument(
        "--target-index",
        type=int,
        metavar="N",
        help="which face of TARGET to replace, 0.. from the left (default: the largest face)",
    )
    swap.add_argument("--face-enhance", action="store_true", help="sharpen and denoise the swapped face")
    swap.add_argument("--metadata", metavar="JSON", help="a JSON object echoed in the job and its events")
    swap.add_argument(
        "--wait",
        type=int,
        metavar="SECONDS",
        help="let the API hold the request up to SECONDS (1..25) and answer with the finished job",
    )
    swap.add_argument("--detach", action="store_true", help="submit only: print the accepted job as JSON")
    swap.add_argument("--timeout", type=float, default=300, help="seconds to wait for the job (default 300)")
    swap.add_argument("--interval", type=float, default=0.5, help=argparse.SUPPRESS)
    swap.set_defaults(run=_swap)


# ---- responsible use: jobs delete, verify, retention, audit (issue 17) -------------------------------


def _api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api",
        default=os.environ.get("SWAPFLOW_API_URL") or f"http://127.0.0.1:{os.environ.get('SWAPFLOW_PORT', '8000')}",
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
    jobs = sub.add_parser("jobs", help="manage jobs through the API (delete)")
    actions = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
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


def _table(args: argparse.Namespace) -> Any:
    import boto3

    kwargs = _session_kwargs(args)
    name = find_table_name(args, boto3.client("cloudformation", **kwargs), boto3.client("dynamodb", **kwargs))
    return boto3.resource("dynamodb", **kwargs).Table(name)


def _retention_sweep(args: argparse.Namespace, out: TextIO) -> int:
    """Runs the deployed eraser once, as its hourly schedule does (locally, schedules do not fire)."""
    import boto3

    client = boto3.client("lambda", **_session_kwargs(args))
    name = args.function or next(
        (
            f["FunctionName"]
            for page in client.get_paginator("list_functions").paginate()
            for f in page["Functions"]
            if f["FunctionName"].startswith(f"{args.stack}-") and "EraserFn" in f["FunctionName"]
        ),
        None,
    )
    if not name:
        raise CliError(f"no eraser function of stack {args.stack!r} found; pass --function")
    answer = client.invoke(FunctionName=name, Payload=json.dumps({"sweep": True}).encode())
    payload = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        raise CliError(f"the sweep failed: {payload}")
    print(json.dumps(payload), file=out)
    return 0


def _retention_set(args: argparse.Namespace, out: TextIO) -> int:
    from .jobs.retention import parse_days
    from .storage.tenants import DynamoTenants, TenantNotFoundError

    try:
        inputs = parse_days(args.inputs, allow_keep=False) if args.inputs is not None else None
        outputs = parse_days(args.outputs, allow_keep=True) if args.outputs is not None else None
    except ValueError as exc:
        raise CliError(str(exc), 2) from exc
    tenants = DynamoTenants(_table(args))
    try:
        tenants.set_retention(
            args.tenant, inputs_days=inputs, outputs_days=outputs, keep=args.outputs is not None and outputs is None
        )
    except TenantNotFoundError as exc:
        raise CliError(str(exc)) from exc
    print(json.dumps({"tenant": args.tenant, **tenants.retention(args.tenant).view()}), file=out)
    return 0


def _cmd_retention(sub: Any) -> None:
    retention = sub.add_parser("retention", help="how long tenants' photos are kept; run the sweep")
    actions = retention.add_subparsers(dest="action", required=True, metavar="ACTION")
    sweep = actions.add_parser("sweep", help="delete what is past its retention now (the hourly schedule's job)")
    sweep.add_argument("--function", help="the eraser function's name (default: found by the stack's name)")
    sweep.set_defaults(run=_retention_sweep)
    settings = actions.add_parser("set", help="a tenant's retention, for jobs that end from now on")
    settings.add_argument("--tenant", required=True)
    settings.add_argument("--inputs", metavar="DAYS", help="days after a job ends until its inputs go (default 1)")
    settings.add_argument("--outputs", metavar="DAYS|keep", help="days until its outputs go (default 30), or keep")
    settings.set_defaults(run=_retention_set)
    for parser in (sweep, settings):
        _aws_options(parser)


def _since(value: str) -> float:
    """`2026-12-01`, `2026-12-01T08:00:00Z` or a number of hours back (`24h`)."""
    import calendar

    if value.endswith("h") and value[:-1].replace(".", "", 1).isdigit():
        return time.time() - float(value[:-1]) * 3600
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return float(calendar.timegm(time.strptime(value, fmt)))
        except ValueError:
            continue
    raise CliError(f"--since {value!r}: give a date (2026-12-01), a UTC time (2026-12-01T08:00:00Z) or hours (24h)", 2)


def _audit(args: argparse.Namespace, out: TextIO) -> int:
    from .storage.audit import DynamoAuditLog

    since = _since(args.since)
    until = _since(args.until) if args.until else None
    for entry in DynamoAuditLog(_table(args)).entries(args.tenant, since, until):
        print(json.dumps(entry, separators=(",", ":")), file=out)
    return 0


def _cmd_audit(sub: Any) -> None:
    audit = sub.add_parser("audit", help="a tenant's audit trail as JSON lines: submissions and deletions")
    audit.add_argument("--tenant", required=True)
    audit.add_argument("--since", default="24h", help="a date, a UTC time or hours back (default 24h)")
    audit.add_argument("--until", help="same forms as --since (default: now)")
    _aws_options(audit)
    audit.set_defaults(run=_audit)



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
    except Exception as exc:
        message = aws_error_message(exc)
        if message is None:
            raise
        print(f"swapflow: {message}", file=sys.stderr)
        return 1


LOCAL_HINT = "for the local stack add --endpoint-url http://127.0.0.1:4566 (or set SWAPFLOW_AWS_ENDPOINT)"


def aws_error_message(exc: Exception) -> str | None:
    """One line for an AWS SDK failure the user can fix (region, credentials, endpoint); None for anything else."""
    if "botocore" not in sys.modules:
        return None
    from botocore import exceptions as aws

    if isinstance(exc, aws.NoRegionError):
        return f"no AWS region: pass --region or set AWS_REGION; {LOCAL_HINT}"
    if isinstance(exc, aws.NoCredentialsError | aws.PartialCredentialsError):
        return f"no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; {LOCAL_HINT}"
    if isinstance(exc, aws.EndpointConnectionError):
        return f"cannot reach the AWS endpoint {exc.kwargs.get('endpoint_url')} (is `make up` running?)"
    if isinstance(exc, aws.ClientError):
        error = exc.response.get("Error", {})
        return f"AWS {exc.operation_name}: {error.get('Code')}: {error.get('Message')}"
    if isinstance(exc, aws.BotoCoreError):
        return f"AWS: {exc}"
    return None


if __name__ == "__main__":
    sys.exit(main())
