"""Webhook cryptography of the hosted providers.

Akool: ``signature = sha1_hex("".join(sorted([clientId, str(timestamp), str(nonce), dataEncrypt])))`` and
``dataEncrypt = base64(AES-CBC(key=clientSecret utf-8, iv=clientId utf-8, PKCS7))``.
WaveSpeed: ``webhook-signature: v3,<hex>`` with ``hex = HMAC-SHA256(secret without "whsec_",
f"{id}.{timestamp}.{raw body}")``. The encrypting halves exist for the simulators and tests.

`cryptography` is imported lazily: only Akool webhooks need AES.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

_AES_BLOCK = 16


class WebhookCryptoError(ValueError):
    """A payload that cannot be decrypted or a key of the wrong shape."""


def akool_signature(client_id: str, timestamp: int | str, nonce: int | str, data_encrypt: str) -> str:
    parts = sorted([client_id, str(timestamp), str(nonce), data_encrypt])
    return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()


def akool_signature_ok(
    signature: str, client_id: str, timestamp: int | str, nonce: int | str, data_encrypt: str
) -> bool:
    expected = akool_signature(client_id, timestamp, nonce, data_encrypt)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().lower().encode("utf-8"))


def _akool_cipher(client_id: str, client_secret: str):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = client_secret.encode("utf-8")
    iv = client_id.encode("utf-8")
    if len(key) not in (16, 24, 32):
        raise WebhookCryptoError(f"Akool client secret must be 16, 24 or 32 bytes, got {len(key)}")
    if len(iv) != _AES_BLOCK:
        raise WebhookCryptoError(f"Akool client id must be 16 bytes to serve as the AES IV, got {len(iv)}")
    return Cipher(algorithms.AES(key), modes.CBC(iv))


def akool_encrypt(plaintext: bytes, client_id: str, client_secret: str) -> str:
    from cryptography.hazmat.primitives import padding

    padder = padding.PKCS7(_AES_BLOCK * 8).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = _akool_cipher(client_id, client_secret).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def akool_decrypt(data_encrypt: str, client_id: str, client_secret: str) -> bytes:
    from cryptography.hazmat.primitives import padding

    try:
        raw = base64.b64decode(data_encrypt, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookCryptoError("dataEncrypt is not base64") from exc
    if not raw or len(raw) % _AES_BLOCK:
        raise WebhookCryptoError("dataEncrypt is not a whole number of AES blocks")
    decryptor = _akool_cipher(client_id, client_secret).decryptor()
    padded = decryptor.update(raw) + decryptor.finalize()
    unpadder = padding.PKCS7(_AES_BLOCK * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise WebhookCryptoError("dataEncrypt has bad padding (wrong key?)") from exc


def wavespeed_key(secret: str) -> bytes:
    """The HMAC key: the secret without its ``whsec_`` prefix, as raw utf-8 bytes (not base64-decoded)."""
    return secret.removeprefix("whsec_").encode("utf-8")


def wavespeed_signature(secret: str, webhook_id: str, timestamp: int | str, body: bytes) -> str:
    """The hex digest (without the ``v3,`` prefix)."""
    message = f"{webhook_id}.{timestamp}.".encode() + body
    return hmac.new(wavespeed_key(secret), message, hashlib.sha256).hexdigest()


def wavespeed_signature_ok(header: str, secret: str, webhook_id: str, timestamp: int | str, body: bytes) -> bool:
    """True when any ``v3,<hex>`` entry of the (space-separated) header matches."""
    expected = wavespeed_signature(secret, webhook_id, timestamp, body).encode("ascii")
    ok = False
    for entry in header.split():
        version, _, value = entry.partition(",")
        if version == "v3" and hmac.compare_digest(expected, value.strip().lower().encode("utf-8")):
            ok = True
    return ok
