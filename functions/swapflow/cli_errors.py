"""What the `swapflow` CLI prints when it fails: a CliError's line, or one line for an AWS SDK failure."""

from __future__ import annotations

import sys


class CliError(Exception):
    """A failure the user can act on: printed as one line, exit status `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


LOCAL_HINT = "for the local stack add --endpoint-url http://127.0.0.1:4566 (or set SWAPFLOW_AWS_ENDPOINT)"


def aws_error_message(exc: Exception) -> str | None:
    """One line for an AWS SDK failure the user can fix (region, credentials, endpoint); None for anything else."""
    if "botocore" not in sys.modules:
        return None
    from botocore import exceptions as aws

    if isinstance(exc, aws.NoRegionError):
        return f"no AWS region: pass --region or set AWS_REGION; {LOCAL_HINT}"
    if isinstance(exc, aws.NoCredentialsError | aws.PartialCredentialsError):
        return f"no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; {LOCAL_HINT}"
    if isinstance(exc, aws.EndpointConnectionError):
        return f"cannot reach the AWS endpoint {exc.kwargs.get('endpoint_url')} (is `make up` running?)"
    if isinstance(exc, aws.ClientError):
        error = exc.response.get("Error", {})
        return f"AWS {exc.operation_name}: {error.get('Code')}: {error.get('Message')}"
    if isinstance(exc, aws.BotoCoreError):
        return f"AWS: {exc}"
    return None
