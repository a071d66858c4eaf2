"""`swapflow`: tenants and API keys (`swapflow keys ...`) and face swaps from the shell (`swapflow swap`).

Each subcommand is one `_cmd_*` function that adds its parser and sets `run`; COMMANDS lists them, so a
new subcommand is one function and one line. Importing this module needs nothing beyond the stdlib:
`keys` imports boto3 when it runs, `swap` speaks HTTP with urllib.

`keys` talks to the jobs table directly: `--table NAME`, else SWAPFLOW_TABLE, else the `TableName`
output of the CloudFormation stack (`--stack`, default Swapflow). `--endpoint-url` (default
SWAPFLOW_AWS_ENDPOINT) points it at the local stack's AWS endpoint, where the table is found by name.
"""

from __future__ import annotations

import argparse
import base64
import json
import mimetypes
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from . import __version__

LOCAL_API_KEY = "sf_local_dev_key"
TERMINAL = {"completed", "failed", "cancelled"}
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
    try:
        stacks = cloudformation.describe_stacks(StackName=args.stack)["Stacks"]
        for output in stacks[0].get("Outputs", []):
            if output["OutputKey"] == "TableName":
                return str(output["OutputValue"])
    except Exception as exc:
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


# ---- swap -------------------------------------------------------------------------------------------


# A local file up to this size travels inline as a data: URI (two of them stay well under API Gateway's
# 10 MB body limit once base64 grows them by a third); a bigger one goes through POST /v1/uploads.
INLINE_MAX_BYTES = 3 * 1024 * 1024


def image_ref(value: str, api: Api | None = None) -> str:
    """URLs, data: URIs and upload refs pass through; a local file becomes a data: URI, or an upload ref
    when it is over INLINE_MAX_BYTES (needs `api`)."""
    if value.startswith(("https://", "http://", "data:", "upload:")):
        return value
    path = Path(value)
    if not path.is_file():
        raise CliError(f"{value}: no such file (give a local image, an https URL or a data: URI)", 2)
    mime = mimetypes.guess_type(path.name)[0] or "image/jpeg"
    data = path.read_bytes()
    if len(data) > INLINE_MAX_BYTES and api is not None:
        return api.upload(path.name, mime, data)
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


class Api:
    """Just enough HTTP for `swap`: JSON in and out, the API key on every call, errors as CliError."""

    def __init__(self, base_url: str, key: str, timeout: float = 60) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {self.key}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                status, headers, raw = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            status, headers, raw = err.code, dict(err.headers), err.read()
        except (urllib.error.URLError, OSError) as exc:
            raise CliError(f"cannot reach the API at {self.base_url}: {getattr(exc, 'reason', exc)}") from exc
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        return status, headers, payload

    def upload(self, filename: str, content_type: str, data: bytes) -> str:
        """POST /v1/uploads, then PUT the bytes to the presigned URL: the image ref of the upload."""
        status, _, ticket = self.call(
            "POST", "/v1/uploads", {"filename": filename, "content_type": content_type, "size": len(data)}
        )
        if status != 201:
            raise _api_error(status, ticket)
        put = urllib.request.Request(ticket["upload"]["url"], data=data, method="PUT")
        for name, value in ticket["upload"]["headers"].items():
            put.add_header(name, value)
        try:
            with urllib.request.urlopen(put, timeout=self.timeout):
                pass
        except (urllib.error.URLError, OSError) as exc:
            raise CliError(f"cannot upload {filename}: {getattr(exc, 'reason', exc)}") from exc
        return str(ticket["image_ref"])


def _api_error(status: int, payload: Any) -> CliError:
    error = (payload or {}).get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        field = f" ({error['field']})" if error.get("field") else ""
        return CliError(f"HTTP {status} {error.get('code')}{field}: {error.get('message')}")
    return CliError(f"HTTP {status}: {payload}")


class Progress:
    """A one-line progress bar on stderr (a line per status change when stderr is not a terminal)."""

    STAGES = {"queued": 0.1, "processing": 0.3, "completed": 1.0, "failed": 1.0, "cancelled": 1.0}

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()
        self.last = ""

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


def _swap(args: argparse.Namespace, out: TextIO) -> int:
    api = Api(args.api, args.key)
    body: dict[str, Any] = {"source_image": image_ref(args.source, api), "target_image": image_ref(args.target, api)}
    if args.provider:
        body["provider"] = args.provider
    if args.format:
        body["output_format"] = args.format
    status, _, accepted = api.call("POST", "/v1/jobs", body)
    if status not in (200, 202):
        raise _api_error(status, accepted)
    job_id = accepted["id"]
    progress = Progress(sys.stderr)
    started = time.monotonic()
    job = accepted
    while True:
        progress.show(job["status"], time.monotonic() - started)
        if job["status"] in TERMINAL and "outputs" in job:
            break
        if time.monotonic() - started > args.timeout:
            raise CliError(f"job {job_id} still {job['status']} after {args.timeout:.0f} s")
        time.sleep(args.interval)
        status, headers, polled = api.call("GET", f"/v1/jobs/{job_id}")
        if status == 429:
            time.sleep(float(headers.get("Retry-After") or 1))
            continue
        if status != 200:
            raise _api_error(status, polled)
        job = polled
    if job["status"] != "completed":
        error = job.get("error") or {}
        raise CliError(f"job {job_id} {job['status']}: {error.get('code')}: {error.get('message')}")
    output = job["outputs"][0]
    path = _output_path(args.out, job_id, output["content_type"])
    try:
        with urllib.request.urlopen(output["url"], timeout=60) as resp:
            data = resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise CliError(f"job {job_id} completed but its output could not be downloaded: {exc}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(str(path), file=out)
    return 0


def _cmd_swap(sub: Any) -> None:
    swap = sub.add_parser("swap", help="swap the face of SOURCE into TARGET and save the result")
    swap.add_argument("source", metavar="SOURCE", help="the face: a local image file, an https URL or a data: URI")
    swap.add_argument("target", metavar="TARGET", help="the photo whose face is replaced")
    swap.add_argument("--provider", help="engine (default), akool, wavespeed-akool, wavespeed-pro or auto")
    swap.add_argument(
        "--api",
        default=os.environ.get("SWAPFLOW_API_URL") or f"http://127.0.0.1:{os.environ.get('SWAPFLOW_PORT', '8000')}",
        help="the API's base URL (default: SWAPFLOW_API_URL, else the local stack on SWAPFLOW_PORT)",
    )
    swap.add_argument(
        "--key", default=os.environ.get("SWAPFLOW_API_KEY") or LOCAL_API_KEY, help="API key (SWAPFLOW_API_KEY)"
    )
    swap.add_argument("--out", help="output file or folder (default: ./<job id>.<ext>)")
    swap.add_argument("--format", choices=["jpeg", "png", "webp"], help="output format (default jpeg)")
    swap.add_argument("--timeout", type=float, default=300, help="seconds to wait for the job (default 300)")
    swap.add_argument("--interval", type=float, default=0.5, help=argparse.SUPPRESS)
    swap.set_defaults(run=_swap)


# Each entry adds one subcommand: a new one is a `_cmd_*` function and a line here.
def _sim_run(args: Any, out: TextIO) -> int:
    from .sim.__main__ import main as sim_main

    return sim_main([args.provider, *args.rest])


def _cmd_sim(sub: Any) -> None:
    sim = sub.add_parser(
        "sim",
        help="run a provider simulator on loopback (akool | wavespeed); see `swapflow sim akool --help`",
        add_help=False,
    )
    sim.add_argument("provider", choices=["akool", "wavespeed"])
    sim.set_defaults(run=_sim_run, passthrough=True)


COMMANDS: list[Callable[[Any], None]] = [_cmd_keys, _cmd_swap, _cmd_sim]


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


if __name__ == "__main__":
    sys.exit(main())
