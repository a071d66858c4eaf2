"""`swapflow keys|retention|audit`: the commands that talk to the stack's AWS resources directly.

`keys` and the others find the jobs table by `--table NAME`, else SWAPFLOW_TABLE, else the `TableName`
output of the CloudFormation stack (`--stack`, default Swapflow); `--endpoint-url` (default
SWAPFLOW_AWS_ENDPOINT) points them at the local stack's AWS endpoint. boto3 is imported when they run.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any, TextIO

from .cli_errors import CliError

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
    key, info, secret = _tenants(args).create_key(args.tenant)
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
    info = _tenants(args).revoke(args.key)
    print(f"revoked {info.key_id} ({info.prefix}) of tenant {info.tenant}", file=out)
    return 0


def _keys_rotate_secret(args: argparse.Namespace, out: TextIO) -> int:
    secret = _tenants(args).rotate_secret(args.tenant)
    print(f"new webhook signing secret of {args.tenant} (deliveries are signed with it from now on):", file=out)
    print(f"  {secret}", file=out)
    return 0


def _keys_set_webhook(args: argparse.Namespace, out: TextIO) -> int:
    """The tenant's default receiver for jobs without a `webhook_url`, checked by the same SSRF guard."""
    from .net import FetchError, FetchPolicy, check_url

    url = None if args.clear else args.url
    if not url and not args.clear:
        raise CliError("give the receiver's URL, or --clear", 2)
    if url:
        local = bool(args.endpoint_url)  # the local stack: http and loopback receivers are fine
        try:
            check_url(url, FetchPolicy(allow_http=local, allow_loopback=local))
        except FetchError as exc:
            raise CliError(f"{url}: {exc.message}", 2) from exc
    _tenants(args).set_default_webhook_url(args.tenant, url)
    print(f"default webhook of {args.tenant}: {url or '(none)'}", file=out)
    return 0


def command_actions(sub: Any, name: str, help: str) -> Any:
    """A command made of actions (`swapflow NAME ACTION ...`): the subparsers its actions are added to."""
    return sub.add_parser(name, help=help).add_subparsers(dest="action", required=True, metavar="ACTION")


def _cmd_keys(sub: Any) -> None:
    actions = command_actions(sub, "keys", "tenants' API keys and webhook signing secrets")
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
    from .storage.tenants import DynamoTenants

    try:
        inputs = parse_days(args.inputs, allow_keep=False) if args.inputs is not None else None
        outputs = parse_days(args.outputs, allow_keep=True) if args.outputs is not None else None
    except ValueError as exc:
        raise CliError(str(exc), 2) from exc
    tenants = DynamoTenants(_table(args))
    tenants.set_retention(
        args.tenant, inputs_days=inputs, outputs_days=outputs, keep=args.outputs is not None and outputs is None
    )
    print(json.dumps({"tenant": args.tenant, **tenants.retention(args.tenant).view()}), file=out)
    return 0


def _cmd_retention(sub: Any) -> None:
    actions = command_actions(sub, "retention", "how long tenants' photos are kept; run the sweep")
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
