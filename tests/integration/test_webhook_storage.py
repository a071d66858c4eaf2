"""DynamoDB adapters of client webhooks (moto): delivery claims and the tenant's webhook settings."""

from __future__ import annotations

from typing import Any

import pytest
from swapflow.storage.tenants import DynamoTenants, KmsSecretCipher, TenantNotFoundError, webhook_secrets_alias
from swapflow.storage.webhooks import DynamoDeliveryClaims


@pytest.fixture
def table(jobs_table: Any) -> Any:
    return jobs_table


def test_given_a_claimed_event_when_claimed_again_then_only_its_owner_succeeds(table: Any) -> None:
    claims = DynamoDeliveryClaims(table)

    assert claims.claim("ev-1", "arn:exec-1")
    assert claims.claim("ev-1", "arn:exec-1")  # the owner's next attempt
    assert not claims.claim("ev-1", "arn:exec-2")
    assert claims.claim("ev-2", "arn:exec-2")
    item = table.get_item(Key={"pk": "WEBHOOK#ev-1", "sk": "WEBHOOK"})["Item"]
    assert item["owner"] == "arn:exec-1" and int(item["ttl"]) > 0


def test_given_a_tenant_when_its_default_url_is_set_and_cleared_then_reads_follow_and_the_secret_stays(
    table: Any,
) -> None:
    tenants = DynamoTenants(table)
    secret = tenants.ensure_secret("acme")

    assert tenants.tenant_secret("acme") == secret and tenants.default_webhook_url("acme") is None
    tenants.set_default_webhook_url("acme", "https://hooks.acme.example/swap")
    assert tenants.default_webhook_url("acme") == "https://hooks.acme.example/swap"
    assert tenants.tenant_secret("acme") == secret  # the secret is untouched
    tenants.set_default_webhook_url("acme", None)
    assert tenants.default_webhook_url("acme") is None
    assert tenants.tenant_secret("nobody") is None and tenants.default_webhook_url("nobody") is None
    with pytest.raises(TenantNotFoundError):
        tenants.set_default_webhook_url("nobody", "https://hooks.example/x")


def test_given_a_kms_key_when_secrets_are_made_and_rotated_then_the_table_holds_only_ciphertext(table: Any) -> None:
    import boto3

    kms = boto3.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=webhook_secrets_alias("Swapflow"), TargetKeyId=key)
    tenants = DynamoTenants(table, cipher=KmsSecretCipher(kms, webhook_secrets_alias("Swapflow")))

    secret = tenants.ensure_secret("acme")
    assert secret.startswith("whsec_") and tenants.ensure_secret("acme") == secret == tenants.tenant_secret("acme")
    rotated = tenants.rotate_secret("acme")
    assert rotated != secret and tenants.tenant_secret("acme") == rotated

    # What a Scan by any function without kms:Decrypt sees: no secret in plain text.
    items = table.scan()["Items"]
    assert "whsec_" not in repr(items) and "webhook_secret" not in {k for item in items for k in item}
    # A ciphertext moved onto another tenant's record does not open (the tenant is the encryption context).
    sealed = table.get_item(Key={"pk": "TENANT#acme", "sk": "TENANT"})["Item"]["webhook_secret_enc"]
    tenants.ensure_secret("mallory")
    table.update_item(
        Key={"pk": "TENANT#mallory", "sk": "TENANT"},
        UpdateExpression="SET webhook_secret_enc = :s",
        ExpressionAttributeValues={":s": sealed},
    )
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        tenants.tenant_secret("mallory")
