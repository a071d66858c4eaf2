"""JSON over HTTP for the hosted providers: one place that turns transport trouble into provider errors.

- connection failures, timeouts, HTTP 429 and 5xx -> `ProviderBusyError` (retried by the workflow),
  carrying Retry-After in seconds when the provider sent one;
- every message that can reach a job says "status 503", never "HTTP 503": the WaveSpeed client SDK
  resubmits a job whose error contains "HTTP 5" or "HTTP 429" (`job_safe`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from swapflow.providers.exceptions import ProviderBusyError

if TYPE_CHECKING:  # urllib3 is imported when a client is made: the registry reads provider modules for free
    import urllib3

CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS = 5.0, 30.0
# "HTTP 503", "HTTP/1.1 429", "http: 500", "HTTP 5xx": any HTTP word followed by a status digit.
_HTTP_WORD = re.compile(r"\bHTTP(?:/\d(?:\.\d)?)?[\s:]*(?=\d)", re.IGNORECASE)
_MAX_MESSAGE = 500


def job_safe(message: str) -> str:
    """A provider message fit for a job error: "HTTP 503" becomes "status 503", long text is cut."""
    return _HTTP_WORD.sub("status ", message)[:_MAX_MESSAGE]


def retry_after_seconds(value: str | None, clock: Callable[[], float] = time.time) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import email.utils  # an HTTP date: rare, so paid only then

        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - clock())


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The decoded body, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None


class JsonClient:
    """A tiny JSON client bound to one provider's base URL and auth headers."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        *,
        http: urllib3.PoolManager | None = None,
        timeout: urllib3.Timeout | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        import urllib3

        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self._http = http or urllib3.PoolManager()
        self._timeout = timeout or urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS)
        self._transport_error = urllib3.exceptions.HTTPError
        self._clock = clock

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
    ) -> Answer:
        """Send one request. Raises ProviderBusyError on transport failure, 429 and 5xx."""
        url = self.base_url + path
        if query:
            url += "?" + urlencode(query)
        headers = {"Accept": "application/json", **self._headers}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            response = self._http.request(
                method, url, body=payload, headers=headers, timeout=self._timeout, retries=False
            )
        except self._transport_error as exc:
            raise ProviderBusyError(f"{self.provider} unreachable ({type(exc).__name__})") from exc
        answer = Answer(response.status, dict(response.headers.items()), response.data or b"")
        if answer.status == 429 or answer.status >= 500:
            word = "rate limited" if answer.status == 429 else "busy"
            raise ProviderBusyError(
                f"{self.provider} {word} (status {answer.status})",
                retry_after=retry_after_seconds(_header(answer.headers, "retry-after"), self._clock),
            )
        return answer


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup over a plain mapping (API Gateway lower-cases, others do not)."""
    return _header(headers, name.lower())
