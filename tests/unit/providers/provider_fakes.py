"""Fakes for the provider unit tests: a urllib3.PoolManager stand-in and an in-memory replay guard."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import urllib3


@dataclass
class Sent:
    method: str
    url: str
    body: Any
    headers: dict[str, str]


@dataclass
class FakeHttp:
    """Answers each request with the next canned (status, body, headers), or from `handler`."""

    answers: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    handler: Callable[[Sent], tuple[int, Any, dict[str, str]]] | None = None
    sent: list[Sent] = field(default_factory=list)

    def request(self, method: str, url: str, body: bytes | None = None, headers: Any = None, **_: Any) -> Any:
        sent = Sent(method, url, json.loads(body) if body else None, dict(headers or {}))
        self.sent.append(sent)
        status, payload, answer_headers = self.handler(sent) if self.handler else self.answers.pop(0)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return urllib3.HTTPResponse(body=data, status=status, headers=answer_headers, preload_content=True)


class MemoryReplayGuard:
    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def first_time(self, key: str, ttl_seconds: int) -> bool:
        if key in self.seen:
            return False
        self.seen[key] = ttl_seconds
        return True


def reply(status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> tuple:
    return (status, body, headers or {})
