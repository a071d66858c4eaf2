"""`webhooks.http_sender` against a loopback receiver: statuses, redirects, big answers, refused URLs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from swapflow.net import FetchPolicy
from swapflow.webhooks import SendResult, http_sender

GOT: list[tuple[str, dict[str, str], bytes]] = []


class Answer(BaseHTTPRequestHandler):
    """POST /<status>[/big] answers that status (with a 1 MB body for /big; a Location for 3xx)."""

    def do_POST(self) -> None:
        GOT.append((self.path, dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
        status = int(self.path.split("/")[1])
        body = b"x" * (1024 * 1024) if self.path.endswith("/big") else b"ok"
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "/200")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


SEND = http_sender(FetchPolicy.for_mode(True, timeout=5))
HEADERS = {"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"}


@pytest.mark.parametrize("status", [200, 202, 204])
def test_given_a_2xx_receiver_when_sent_then_its_status_with_our_headers_and_body(base_url: str, status: int) -> None:
    result = SEND(f"{base_url}/{status}", b'{"type":"Swap Job Completed"}', HEADERS)

    assert result == SendResult(status)
    _, headers, body = GOT[-1]
    assert body == b'{"type":"Swap Job Completed"}'
    assert headers["Content-Type"] == "application/json" and headers["webhook-id"] == "msg_1"


@pytest.mark.parametrize("status", [410, 500, 302])
def test_given_an_error_or_redirect_when_sent_then_a_failure_with_the_status(base_url: str, status: int) -> None:
    GOT.clear()

    result = SEND(f"{base_url}/{status}", b"{}", HEADERS)

    assert result.status == (None if status == 302 else status) and result.error and not result.refused
    assert [path for path, _, _ in GOT] == [f"/{status}"]  # the redirect was not followed


def test_given_a_2xx_with_a_huge_answer_when_sent_then_delivered(base_url: str) -> None:
    assert SEND(f"{base_url}/200/big", b"{}", HEADERS).status == 200


@pytest.mark.parametrize("url", ["http://10.1.2.3/hook", "http://169.254.169.254/"])
def test_given_a_private_address_when_sent_then_refused_without_connecting(url: str) -> None:
    result = SEND(url, b"{}", HEADERS)

    assert result.refused and result.status is None and "non-public" in (result.error or "")
