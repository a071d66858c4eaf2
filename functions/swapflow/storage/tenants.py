"""Tenants in the jobs table: API keys (hashed), each tenant's webhook signing secret, request counters.

Items:
- `KEY#<sha256 of the key>` / `KEY`: tenant, key_id (`key_` + 12 hex of the hash), prefix (the key's
  first characters, for people), created_at, revoked/revoked_at; listed through the `by-tenant` index
  under `gsi1pk = APIKEYS`, `gsi1sk = <tenant>#<created ulid>`. The plaintext key is never stored.
- `TENANT#<tenant>` / `TENANT`: `webhook_secret_enc`, the tenant's `whsec_` signing secret (`whsec_` +
  base64 of 24 random bytes) encrypted with the stack's webhook-secrets KMS key (encryption context
  {tenant}), created with the tenant's first key, rotatable; decrypted only by outgoing client webhooks
  through `tenant_secret` (the one function granted kms:Decrypt: a Scan of the table by any other
  function yields ciphertext). Without a key configured (unit tests) it is kept as plain `webhook_secret`.
  Optional `webhook_url`, the tenant's default receiver of job events (`default_webhook_url`).
  Also the tenant's retention (`retention_inputs_days`, `retention_outputs_days`, "keep" for kept outputs).
- `RATE#<tenant>#<epoch second>` / `RATE`: a fixed one-second window counter (conditional ADD), ttl 60 s.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from ..jobs.access import api_key_from
from ..jobs.exceptions import DomainError
from ..jobs.models import new_job_id
from ..jobs.retention import Retention
from .dynamo import hash_key
from .schema import TENANT_INDEX
from .table import num, put_if_absent, read_all, write_if, written_if

KEY_PREFIX = "sf_"
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
SHOWN_PREFIX_CHARS = 10
KEYS_PARTITION = "APIKEYS"
TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


class TenantNameInvalidError(DomainError, ValueError):
    template = "tenant name {name!r} is not valid: 1-63 of a-z, 0-9, '-', '_', starting with a letter or digit"
    name: str


class ApiKeyNotFoundError(DomainError, LookupError):
    ref: str
    matches: int = 0

    def __str__(self) -> str:
        what = "no API key matches" if not self.matches else f"{self.matches} API keys match"
        return f"{what} {self.ref!r}; give a key id (key_...), a longer prefix or the whole key"


class TenantNotFoundError(DomainError, LookupError):
    template = "tenant {tenant!r} has no keys yet; create one with `swapflow keys create`"
    tenant: str


def webhook_secrets_alias(stack_name: str) -> str:
    """The KMS alias of a stack's webhook-secrets key (infra/constructs/storage.py creates it)."""
    return f"alias/{stack_name}/webhook-secrets"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def key_id_of(api_key: str) -> str:
    return "key_" + hash_key(api_key)[:12]


def caller_key_id(headers: Mapping[str, str] | None, *, prefer_bearer: bool = False) -> str | None:
    """The key id (never the key) of the API key a request carries: who did it, for the audit trail."""
    key = api_key_from(headers, prefer_bearer=prefer_bearer)
    return key_id_of(key) if key else None


def check_tenant_name(name: str) -> str:
    if not TENANT_NAME.fullmatch(name or ""):
        raise TenantNameInvalidError(name)
    return name


@dataclass(frozen=True)
class ApiKeyInfo:
    key_id: str
    tenant: str
    prefix: str
    created_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def matches(self, ref: str) -> bool:
        """`ref` is this key's id, a prefix of it as shown (at least 6 characters), or the key itself."""
        if ref in (self.key_id, self.key_id.removeprefix("key_")) or key_id_of(ref) == self.key_id:
            return True
        shown, ref = self.prefix.rstrip("."), ref.rstrip(".")
        return len(ref) >= 6 and shown.startswith(ref)


class SecretCipher(Protocol):
    def encrypt(self, tenant: str, secret: str) -> str: ...

    def decrypt(self, tenant: str, stored: str) -> str: ...


class KmsSecretCipher:
    """Webhook secrets under the stack's KMS key; the tenant is the encryption context, so a ciphertext
    copied onto another tenant's record does not decrypt."""

    def __init__(self, kms: Any, key_id: str) -> None:
        self.kms = kms
        self.key_id = key_id

    def encrypt(self, tenant: str, secret: str) -> str:
        blob = self.kms.encrypt(KeyId=self.key_id, Plaintext=secret.encode(), EncryptionContext={"tenant": tenant})
        return base64.b64encode(blob["CiphertextBlob"]).decode("ascii")

    def decrypt(self, tenant: str, stored: str) -> str:
        answer = self.kms.decrypt(CiphertextBlob=base64.b64decode(stored), EncryptionContext={"tenant": tenant})
        return bytes(answer["Plaintext"]).decode()


class DynamoTenants:
    def __init__(self, table: Any, *, cipher: SecretCipher | None = None, clock: Callable[[], float] = time.time):
        self.table = table
        self.cipher = cipher
        self.clock = clock
        self._secret_attr = "webhook_secret_enc" if cipher else "webhook_secret"

    def _sealed(self, tenant: str, secret: str) -> str:
        return self.cipher.encrypt(tenant, secret) if self.cipher else secret

    # ---- API keys --------------------------------------------------------------------------------

    def create_key(self, tenant: str, api_key: str | None = None) -> tuple[str, ApiKeyInfo, str]:
        """A new key for `tenant` (its first one also creates its webhook secret): (key, info, secret)."""
        check_tenant_name(tenant)
        secret = self.ensure_secret(tenant)
        api_key = api_key or new_api_key()
        now = self.clock()
        info = ApiKeyInfo(key_id_of(api_key), tenant, api_key[:SHOWN_PREFIX_CHARS] + "...", round(now, 3))
        self.table.put_item(
            Item={
                "pk": f"KEY#{hash_key(api_key)}",
                "sk": "KEY",
                "tenant": tenant,
                "key_id": info.key_id,
                "prefix": info.prefix,
                "created_at": Decimal(str(info.created_at)),
                "gsi1pk": KEYS_PARTITION,
                "gsi1sk": f"{tenant}#{new_job_id(now)}",
            }
        )
        return api_key, info, secret

    def list_keys(self, tenant: str | None = None) -> list[ApiKeyInfo]:
        return [self._info(item) for item in self._key_items(tenant)]

    def find_key(self, ref: str) -> ApiKeyInfo:
        return self._info(self._find_item(ref))

    def revoke(self, ref: str) -> ApiKeyInfo:
        """Revoke one key (by id, shown prefix or the key itself); requests with it get 401 from then on."""
        item = self._find_item(ref)
        info = self._info(item)
        if not info.active:
            return info
        now = round(self.clock(), 3)
        self.table.update_item(
            Key={"pk": item["pk"], "sk": "KEY"},
            UpdateExpression="SET revoked = :t, revoked_at = :now",
            ExpressionAttributeValues={":t": True, ":now": Decimal(str(now))},
        )
        return ApiKeyInfo(info.key_id, info.tenant, info.prefix, info.created_at, now)

    def _find_item(self, ref: str) -> dict[str, Any]:
        found = [item for item in self._key_items() if self._info(item).matches(ref)]
        if len(found) != 1:
            raise ApiKeyNotFoundError(ref, len(found))
        return found[0]

    def _key_items(self, tenant: str | None = None) -> list[dict[str, Any]]:
        values: dict[str, Any] = {":p": KEYS_PARTITION}
        condition = "gsi1pk = :p"
        if tenant:
            condition += " AND begins_with(gsi1sk, :t)"
            values[":t"] = f"{tenant}#"
        query: dict[str, Any] = {
            "IndexName": TENANT_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        return read_all(self.table.query, query)

    @staticmethod
    def _info(item: dict[str, Any]) -> ApiKeyInfo:
        revoked = item.get("revoked_at")
        return ApiKeyInfo(
            key_id=str(item.get("key_id") or "key_" + str(item["pk"])[4:16]),
            tenant=str(item["tenant"]),
            prefix=str(item.get("prefix") or ""),
            created_at=float(item.get("created_at") or 0),
            revoked_at=float(revoked) if revoked is not None else (0.0 if item.get("revoked") else None),
        )

    # ---- webhook signing secrets -------------------------------------------------------------------

    @staticmethod
    def _tenant_key(tenant: str) -> dict[str, str]:
        return {"pk": f"TENANT#{tenant}", "sk": "TENANT"}

    def _update_tenant(self, tenant: str, **update: Any) -> None:
        """Change an existing tenant's record; TenantNotFoundError when it has none."""
        if not write_if(
            self.table.update_item,
            Key=self._tenant_key(tenant),
            ConditionExpression="attribute_exists(pk)",
            **update,
        ):
            raise TenantNotFoundError(tenant)

    def tenant_secret(self, tenant: str) -> str | None:
        """The tenant's `whsec_` Standard Webhooks signing secret (None for an unknown tenant)."""
        item = self.table.get_item(Key=self._tenant_key(tenant), ConsistentRead=True).get("Item") or {}
        stored = item.get(self._secret_attr)
        if not stored:
            return None
        return self.cipher.decrypt(tenant, str(stored)) if self.cipher else str(stored)

    def default_webhook_url(self, tenant: str) -> str | None:
        """Where the tenant's jobs without a `webhook_url` of their own are announced (`webhook_url`), if set."""
        item = self.table.get_item(Key=self._tenant_key(tenant)).get("Item") or {}
        return item.get("webhook_url") or None

    def set_default_webhook_url(self, tenant: str, url: str | None) -> None:
        """Set (or, with None, clear) the tenant's default receiver; check it with `net.check_url` first."""
        values: dict[str, Any] = {"ExpressionAttributeValues": {":u": url}} if url else {}
        self._update_tenant(
            tenant,
            UpdateExpression="SET webhook_url = :u" if url else "REMOVE webhook_url",
            **values,
        )

    def retention(self, tenant: str) -> Retention:
        """The tenant's retention (jobs/retention.py defaults where it set none)."""
        item = self.table.get_item(Key=self._tenant_key(tenant)).get("Item") or {}
        default = Retention()
        outputs = item.get("retention_outputs_days", default.outputs_days)
        return Retention(
            inputs_days=float(item.get("retention_inputs_days", default.inputs_days)),
            outputs_days=None if outputs in (None, "keep") else float(outputs),
        )

    def set_retention(self, tenant: str, *, inputs_days: float | None, outputs_days: float | None, keep: bool) -> None:
        """Change what is given (`keep`: outputs are never deleted by retention); jobs ending from now on use it."""
        values: dict[str, Any] = {}
        if inputs_days is not None:
            values[":i"] = Decimal(str(inputs_days))
        if keep or outputs_days is not None:
            values[":o"] = "keep" if keep else Decimal(str(outputs_days))
        sets = [f"retention_{n}_days = :{n[0]}" for n in ("inputs", "outputs") if f":{n[0]}" in values]
        if not sets:
            return
        self._update_tenant(
            tenant,
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeValues=values,
        )

    def ensure_secret(self, tenant: str) -> str:
        """The tenant's secret, created now if it has none (a concurrent creator's secret wins)."""
        fresh = {"tenant": tenant, self._secret_attr: self._sealed(tenant, new_webhook_secret())}
        put_if_absent(
            self.table,
            {**self._tenant_key(tenant), **fresh, "created_at": num(self.clock())},
            ConditionExpression="attribute_not_exists(#s)",
            ExpressionAttributeNames={"#s": self._secret_attr},
        )
        secret = self.tenant_secret(tenant)
        assert secret  # just written, or held already
        return secret

    def rotate_secret(self, tenant: str) -> str:
        """A fresh secret for an existing tenant; deliveries are signed with it from now on."""
        secret = new_webhook_secret()
        self._update_tenant(
            tenant,
            UpdateExpression="SET #s = :s, rotated_at = :now",
            ExpressionAttributeNames={"#s": self._secret_attr},
            ExpressionAttributeValues={
                ":s": self._sealed(tenant, secret),
                ":now": num(self.clock()),
            },
        )
        return secret


class DynamoRateLimiter:
    """Fixed one-second windows per tenant: a conditional ADD on `RATE#<tenant>#<second>`."""

    def __init__(self, table: Any, *, ttl_seconds: int = 60) -> None:
        self.table = table
        self.ttl_seconds = ttl_seconds

    def admit(self, tenant: str, limit: int, now: float) -> int | None:
        window = int(now)
        answer = written_if(
            self.table.update_item,
            Key={"pk": f"RATE#{tenant}#{window}", "sk": "RATE"},
            UpdateExpression="ADD n :one SET #ttl = :ttl",
            ConditionExpression="attribute_not_exists(n) OR n < :limit",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":one": 1, ":limit": limit, ":ttl": window + self.ttl_seconds},
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"]["n"]) if answer else None
