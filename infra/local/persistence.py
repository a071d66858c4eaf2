"""The local stack's data directory: what `make up` keeps across restarts, as a dev server does.

Layout (default ``.swapflow/`` in the checkout, ``SWAPFLOW_DATA_DIR`` or ``--data-dir`` to move it,
``make clean`` or ``--fresh`` to wipe it):

* ``lock``: held (flock) while a stack uses the directory, so two stacks never share one;
* ``dynamodb/<logical id>.jsonl``: every item of every table (jobs, tenants and API keys, batches,
  idempotency records), in DynamoDB's typed JSON;
* ``s3/<logical id>/index.json`` + ``objects/``: every object's latest version (inputs, uploads,
  outputs, manifests), written incrementally by ETag;
* ``secrets.json``: the values of the stack's Secrets Manager secrets; ``kms.json``: its KMS keys' material
  (the deployer gives keys stable ids), so what they encrypted — the tenants' webhook secrets — decrypts.

It is saved every ``SWAPFLOW_LOCAL_SAVE_SECONDS`` (10) while the stack serves and once when it stops;
restored right after the template is deployed, with S3 notifications held back so restoring a
manifest starts nothing. Jobs that were in flight are then ended ``failed`` / ``interrupted``
(``interrupted_jobs``): their executions lived in memory and are gone.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

NON_TERMINAL = ("queued", "processing")


class DataDirBusyError(RuntimeError):
    """Another local stack holds the data directory."""


@dataclass
class Restored:
    items: int = 0
    objects: int = 0
    secrets: int = 0


class DataDir:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_file: Any = None

    # ------------------------------------------------------------------ lifecycle
    def acquire(self, *, fresh: bool = False) -> DataDir:
        self.path.mkdir(parents=True, exist_ok=True)
        lock = (self.path / "lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            owner = lock.read().strip() or "?"
            lock.close()
            raise DataDirBusyError(
                f"another local stack (pid {owner}) is using {self.path}: stop it, or set SWAPFLOW_DATA_DIR "
                "to another directory"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock_file = lock
        if fresh:
            for child in ("dynamodb", "s3", "secrets.json", "kms.json"):
                target = self.path / child
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        return self

    def release(self) -> None:
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
                self._lock_file.close()
            self._lock_file = None

    # ------------------------------------------------------------------ save
    def save(self, deployment: Any) -> None:
        import boto3

        for logical_id, name in _resources(deployment, "AWS::DynamoDB::Table"):
            self._save_table(boto3.client("dynamodb"), logical_id, name)
        for logical_id, name in _resources(deployment, "AWS::S3::Bucket"):
            self._save_bucket(boto3.client("s3"), logical_id, name)
        secrets = {}
        sm = boto3.client("secretsmanager")
        for logical_id, arn in _resources(deployment, "AWS::SecretsManager::Secret"):
            with contextlib.suppress(Exception):  # a secret without a value has nothing to keep
                secrets[logical_id] = sm.get_secret_value(SecretId=arn)["SecretString"]
        _write_atomic(self.path / "secrets.json", json.dumps(secrets).encode())
        materials = {lid: base64.b64encode(key.key_material).decode() for lid, key in _kms_keys(deployment)}
        _write_atomic(self.path / "kms.json", json.dumps(materials).encode())

    def _save_table(self, ddb: Any, logical_id: str, name: str) -> None:
        lines: list[str] = []
        for page in ddb.get_paginator("scan").paginate(TableName=name, ConsistentRead=True):
            lines.extend(json.dumps(item, separators=(",", ":")) for item in page.get("Items", []))
        _write_atomic(self.path / "dynamodb" / f"{logical_id}.jsonl", ("\n".join(lines) + "\n").encode())

    def _save_bucket(self, s3: Any, logical_id: str, bucket: str) -> None:
        folder = self.path / "s3" / logical_id
        objects = folder / "objects"
        objects.mkdir(parents=True, exist_ok=True)
        index_path = folder / "index.json"
        old: dict[str, Any] = json.loads(index_path.read_text()) if index_path.exists() else {}
        new: dict[str, Any] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                key, etag = entry["Key"], entry["ETag"]
                file = hashlib.sha256(key.encode()).hexdigest()
                if old.get(key, {}).get("etag") == etag and (objects / file).exists():
                    new[key] = old[key]
                    continue
                got = s3.get_object(Bucket=bucket, Key=key)
                _write_atomic(objects / file, got["Body"].read())
                new[key] = {
                    "etag": etag,
                    "file": file,
                    "content_type": got.get("ContentType"),
                    "metadata": got.get("Metadata") or {},
                }
        for key, entry in old.items():
            if key not in new:
                with contextlib.suppress(FileNotFoundError):
                    (objects / entry["file"]).unlink()
        _write_atomic(index_path, json.dumps(new).encode())

    # ------------------------------------------------------------------ restore
    def restore(self, deployment: Any) -> Restored:
        import boto3

        done = Restored()
        ddb = boto3.client("dynamodb")
        for logical_id, name in _resources(deployment, "AWS::DynamoDB::Table"):
            path = self.path / "dynamodb" / f"{logical_id}.jsonl"
            items = [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []
            for start in range(0, len(items), 25):
                chunk = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
                ddb.batch_write_item(RequestItems={name: chunk})
            done.items += len(items)
        s3 = boto3.client("s3")
        for logical_id, bucket in _resources(deployment, "AWS::S3::Bucket"):
            index_path = self.path / "s3" / logical_id / "index.json"
            if not index_path.exists():
                continue
            with _notifications_held(bucket):
                for key, entry in json.loads(index_path.read_text()).items():
                    body = (self.path / "s3" / logical_id / "objects" / entry["file"]).read_bytes()
                    extra = {"ContentType": entry["content_type"]} if entry.get("content_type") else {}
                    s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=entry.get("metadata") or {}, **extra)
                    done.objects += 1
        kms_path = self.path / "kms.json"
        materials = json.loads(kms_path.read_text()) if kms_path.exists() else {}
        for logical_id, key in _kms_keys(deployment):  # the same key ids (see the deployer), the same material
            if logical_id in materials:
                key.key_material = base64.b64decode(materials[logical_id])
        secrets_path = self.path / "secrets.json"
        saved = json.loads(secrets_path.read_text()) if secrets_path.exists() else {}
        sm = boto3.client("secretsmanager")
        for logical_id, arn in _resources(deployment, "AWS::SecretsManager::Secret"):
            if logical_id in saved:
                sm.put_secret_value(SecretId=arn, SecretString=saved[logical_id])
                done.secrets += 1
        return done

    @staticmethod
    def interrupted_jobs(deployment: Any) -> list[str]:
        """Ids of the jobs that were queued or processing when the stack stopped."""
        import boto3

        ddb = boto3.client("dynamodb")
        found: list[str] = []
        for _, name in _resources(deployment, "AWS::DynamoDB::Table"):
            for page in ddb.get_paginator("scan").paginate(
                TableName=name,
                FilterExpression="sk = :job AND #s IN (:q, :p)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":job": {"S": "JOB"}, ":q": {"S": "queued"}, ":p": {"S": "processing"}},
            ):
                found.extend(item["id"]["S"] for item in page.get("Items", []) if "id" in item)
        return sorted(found)


def _resources(deployment: Any, rtype: str) -> list[tuple[str, str]]:
    types = deployment.types.items()
    return [(lid, deployment.physical[lid]) for lid, t in types if t == rtype and lid not in deployment.skipped]


def _kms_keys(deployment: Any) -> list[tuple[str, Any]]:
    """The stack's KMS keys as moto holds them: what they encrypted (webhook secrets) must decrypt after a restart."""
    from moto.kms.models import kms_backends

    backend = kms_backends[deployment.account][deployment.region]
    return [
        (lid, backend.keys[key_id]) for lid, key_id in _resources(deployment, "AWS::KMS::Key") if key_id in backend.keys
    ]


@contextlib.contextmanager
def _notifications_held(bucket: str) -> Any:
    """Restoring an object is not an upload: no S3 notification fires for it."""
    from moto.s3.models import s3_backends

    from .patches.serialized_aws import DISPATCH_LOCK

    with DISPATCH_LOCK:
        fake = next(b[bucket] for b in (r["global"].buckets for r in s3_backends.values()) if bucket in b)
        saved, fake.notification_configuration = fake.notification_configuration, None
        try:
            yield
        finally:
            fake.notification_configuration = saved


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
