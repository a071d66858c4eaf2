"""Standard Webhooks v1 signatures (https://www.standardwebhooks.com), standard library only.

    webhook-id:        the message id: unique per message, the same on every retry of it
    webhook-timestamp: the attempt's time, integer seconds since the epoch
    webhook-signature: "v1," + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))

The key is the secret without its `whsec_` prefix, base64-decoded (the spec's secret format; tenants get
theirs from storage.tenants.new_webhook_secret). That is
what the `standardwebhooks` libraries verify; the tests cross-check every vector with the Python one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"


class SigningSecretInvalidError(ValueError):
    """The secret is not `whsec_` + base64 of a non-empty key."""


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret (base64, padding optional, as the reference libraries accept)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SigningSecretInvalidError("the webhook secret is not base64 after its whsec_ prefix") from exc
    if not key:
        raise SigningSecretInvalidError("the webhook secret is empty")
    return key


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value (`v1,<base64>`) for one attempt of one message."""
    signed = b"%s.%d.%s" % (message_id.encode("utf-8"), timestamp, body)
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (each retry is signed anew: fresh timestamp)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }
