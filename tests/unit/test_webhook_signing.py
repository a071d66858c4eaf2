"""Standard Webhooks v1 signing (swapflow.webhooks.signing), cross-checked with the `standardwebhooks` library."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from swapflow.storage.tenants import new_webhook_secret
from swapflow.webhooks import SigningSecretInvalidError, secret_key, signature, signed_headers

# The reference vector of the Standard Webhooks libraries (their own test suites use it).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_given_the_spec_vector_when_signed_then_the_published_signature_comes_out() -> None:
    assert signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"type":"Swap Job Completed","job":{"id":"01J"}}', '{"name":"Zoë ☃"}'.encode(), b"x" * 70_000],
)
def test_given_bodies_when_signed_then_the_library_signs_the_same(body: bytes) -> None:
    secret = new_webhook_secret()
    when = datetime.fromtimestamp(SPEC_TIMESTAMP, tz=UTC)
    expected = Webhook(secret).sign("msg_1", when, body.decode())

    assert signature(secret, "msg_1", SPEC_TIMESTAMP, body) == expected


def test_given_signed_headers_when_the_library_verifies_them_then_it_returns_the_payload() -> None:
    secret = new_webhook_secret()
    body = json.dumps({"type": "Swap Job Failed", "error": {"code": "no_face_in_source"}}).encode()

    headers = signed_headers(secret, "msg_01J_failed", int(time.time()), body)

    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert Webhook(secret).verify(body, headers)["type"] == "Swap Job Failed"


def test_given_a_tampered_body_or_another_secret_when_verified_then_the_library_refuses() -> None:
    secret = new_webhook_secret()
    body = b'{"type":"Swap Job Completed"}'
    headers = signed_headers(secret, "msg_1", int(time.time()), body)

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(body, headers)


def test_given_new_webhook_secrets_then_each_is_whsec_and_32_random_bytes() -> None:
    first, second = new_webhook_secret(), new_webhook_secret()

    assert first.startswith("whsec_") and first != second
    assert len(secret_key(first)) == 24
    assert secret_key(first) == base64.b64decode(first.removeprefix("whsec_"))


def test_given_an_unpadded_secret_when_keyed_then_it_decodes_like_the_library() -> None:
    unpadded = "whsec_" + base64.b64encode(b"0123456789abcdefghijklmn!").decode().rstrip("=")

    assert secret_key(unpadded) == b"0123456789abcdefghijklmn!"
    when = datetime.fromtimestamp(1, tz=UTC)
    assert signature(unpadded, "m", 1, b"{}") == Webhook(unpadded).sign("m", when, "{}")


@pytest.mark.parametrize("bad", ["whsec_", "whsec_not*base64!", ""])
def test_given_a_malformed_secret_when_keyed_then_refused(bad: str) -> None:
    with pytest.raises(SigningSecretInvalidError):
        secret_key(bad)
