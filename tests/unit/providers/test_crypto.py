"""Webhook crypto vectors, computed independently in the test where the algorithm allows."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from swapflow.providers import crypto

CLIENT_ID = "abcdefghijklmnop"  # 16 bytes: the IV
SECRET_16 = "0123456789abcdef"
SECRET_32 = "0123456789abcdef0123456789ABCDEF"


def _reference_encrypt(plain: bytes, key: str, iv: str) -> str:
    padder = padding.PKCS7(128).padder()
    data = padder.update(plain) + padder.finalize()
    enc = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode()


def test_given_a_payload_when_akool_encrypts_then_it_matches_a_reference_aes_cbc_pkcs7() -> None:
    plain = json.dumps({"_id": "abc", "status": 3, "type": 1, "url": "https://x/y.jpg"}).encode()
    assert crypto.akool_encrypt(plain, CLIENT_ID, SECRET_16) == _reference_encrypt(plain, SECRET_16, CLIENT_ID)


@pytest.mark.parametrize("secret", [SECRET_16, "0123456789abcdef01234567", SECRET_32])
def test_given_each_key_length_when_round_tripping_then_the_plaintext_comes_back(secret: str) -> None:
    plain = b'{"_id":"1","status":4}'
    assert crypto.akool_decrypt(crypto.akool_encrypt(plain, CLIENT_ID, secret), CLIENT_ID, secret) == plain


def test_given_a_block_exact_payload_when_encrypting_then_a_full_padding_block_is_added() -> None:
    plain = b"x" * 16
    raw = base64.b64decode(crypto.akool_encrypt(plain, CLIENT_ID, SECRET_16))
    assert len(raw) == 32
    assert crypto.akool_decrypt(base64.b64encode(raw).decode(), CLIENT_ID, SECRET_16) == plain


def test_given_the_wrong_secret_when_decrypting_then_a_crypto_error_is_raised() -> None:
    token = crypto.akool_encrypt(b'{"_id":"1"}', CLIENT_ID, SECRET_16)
    with pytest.raises(crypto.WebhookCryptoError):
        crypto.akool_decrypt(token, CLIENT_ID, "fedcba9876543210")


@pytest.mark.parametrize("bad", ["not base64 !!", base64.b64encode(b"short").decode(), ""])
def test_given_garbage_when_decrypting_then_a_crypto_error_is_raised(bad: str) -> None:
    with pytest.raises(crypto.WebhookCryptoError):
        crypto.akool_decrypt(bad, CLIENT_ID, SECRET_16)


@pytest.mark.parametrize(("client_id", "secret"), [("short", SECRET_16), (CLIENT_ID, "fifteen-bytes!!")])
def test_given_keys_of_the_wrong_size_when_encrypting_then_the_error_names_the_problem(
    client_id: str, secret: str
) -> None:
    with pytest.raises(crypto.WebhookCryptoError, match="bytes"):
        crypto.akool_encrypt(b"{}", client_id, secret)


def test_given_the_four_parts_when_signing_then_sha1_is_taken_over_them_sorted() -> None:
    # sorted(["abcdefghijklmnop", "1700000000000", "42", "ZZZ"]) -> digits first, then "ZZZ", then lower case
    expected = hashlib.sha1(b"1700000000000" + b"42" + b"ZZZ" + b"abcdefghijklmnop").hexdigest()
    assert crypto.akool_signature(CLIENT_ID, 1700000000000, 42, "ZZZ") == expected
    assert crypto.akool_signature(CLIENT_ID, "1700000000000", "42", "ZZZ") == expected
    assert crypto.akool_signature_ok(expected.upper(), CLIENT_ID, 1700000000000, 42, "ZZZ")
    assert not crypto.akool_signature_ok(expected, CLIENT_ID, 1700000000001, 42, "ZZZ")


def test_given_a_whsec_secret_when_signing_then_the_key_is_the_raw_utf8_rest_not_base64() -> None:
    body = b'{"id":"t1","status":"completed"}'
    expected = hmac.new(b"c2VjcmV0", b"msg_1.1758798328." + body, hashlib.sha256).hexdigest()
    assert crypto.wavespeed_signature("whsec_c2VjcmV0", "msg_1", 1758798328, body) == expected
    assert crypto.wavespeed_signature_ok(f"v3,{expected}", "whsec_c2VjcmV0", "msg_1", "1758798328", body)


def test_given_several_signatures_when_verifying_then_any_v3_match_counts_and_other_versions_do_not() -> None:
    body = b"{}"
    good = crypto.wavespeed_signature("whsec_k", "id", 1, body)
    assert crypto.wavespeed_signature_ok(f"v3,{'0' * 64} v3,{good}", "whsec_k", "id", 1, body)
    assert not crypto.wavespeed_signature_ok(f"v1,{good}", "whsec_k", "id", 1, body)
    assert not crypto.wavespeed_signature_ok(f"v3,{good}", "whsec_k", "id", 1, body + b" ")
