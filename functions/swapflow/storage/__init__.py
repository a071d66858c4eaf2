"""Adapters to AWS storage: the DynamoDB job repository, S3 blobs, replay and idempotency records."""
