"""The SQS dead-letter queue adapter: rejected inputs are parked there with their reasons."""

from __future__ import annotations

import json
from typing import Any

MAX_MESSAGE_BYTES = 256 * 1024


class SqsDeadLetters:
    def __init__(self, client: Any, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url

    def send(self, body: dict[str, Any]) -> None:
        text = json.dumps(body, default=str)
        if len(text.encode()) > MAX_MESSAGE_BYTES:  # keep the reasons; the event itself is too big to park
            text = json.dumps({**body, "event": {"truncated": True, "id": (body.get("event") or {}).get("id")}})
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=text)
