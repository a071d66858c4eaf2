"""Provider secrets through powertools Parameters (on moto): cached for the max age, then the rotated value."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws
from swapflow.wiring import secret_reader


def test_given_a_rotated_secret_when_read_within_and_after_the_max_age_then_cached_then_the_new_key(aws_env) -> None:
    with mock_aws():
        client = boto3.client("secretsmanager")
        arn = client.create_secret(Name="ws", SecretString=json.dumps({"api_key": "key-1"}))["ARN"]
        cached, fresh = secret_reader(lambda: client, 300), secret_reader(lambda: client, 0)
        assert cached(arn) == fresh(arn) == {"api_key": "key-1"}

        client.put_secret_value(SecretId=arn, SecretString=json.dumps({"api_key": "key-2"}))

        assert cached(arn) == {"api_key": "key-1"}  # within its max age: no Secrets Manager call
        assert fresh(arn) == {"api_key": "key-2"}  # past it: the rotated key


def test_given_a_secret_that_is_not_a_json_object_when_read_then_it_is_empty(aws_env) -> None:
    with mock_aws():
        client = boto3.client("secretsmanager")
        arn = client.create_secret(Name="ws", SecretString="not json")["ARN"]
        assert secret_reader(lambda: client, 300)(arn) == {}
