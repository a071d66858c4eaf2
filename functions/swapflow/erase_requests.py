"""Deletions on request are handed to the eraser Lambda, the one function allowed to delete objects."""

from __future__ import annotations

import json
from typing import Any


class LambdaEraseRequests:
    def __init__(self, lambda_client: Any, function_name: str) -> None:
        self.lambda_client = lambda_client
        self.function_name = function_name

    def request(self, payload: dict[str, Any]) -> None:
        """Asynchronous (Event): Lambda retries it twice and the record is already a tombstone."""
        self.lambda_client.invoke(
            FunctionName=self.function_name, InvocationType="Event", Payload=json.dumps(payload).encode()
        )
