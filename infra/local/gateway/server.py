"""The gateway over HTTP: a threading server in a daemon thread.

A body over 10 MB is read and dropped first (up to ``MAX_DRAINED_BYTES``), so the client sees the 413
rather than a broken pipe.
"""

from __future__ import annotations

import logging
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .answers import MAX_BODY_BYTES, TOO_LARGE

if TYPE_CHECKING:
    from . import Gateway

LOG = logging.getLogger(__name__)

# A body over the limit is still read (and dropped) up to this size, so the client gets the 413.
MAX_DRAINED_BYTES = 256 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    """Many clients connect at once: a listen backlog of 5 (the default) resets the sixth."""

    request_queue_size = 128
    daemon_threads = True


def serve(gateway: Gateway, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """Serve the gateway over HTTP in a daemon thread (``server.shutdown()`` stops it)."""

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _do(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                left = length if length <= MAX_DRAINED_BYTES else 0  # read and drop it: the client sees the 413
                while left > 0 and (chunk := self.rfile.read(min(1 << 20, left))):
                    left -= len(chunk)
                status, headers, body = gateway.gateway_answer(TOO_LARGE, str(uuid.uuid4()))
                self.close_connection = True
            else:
                raw = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                status, headers, body = gateway.handle(
                    self.command,
                    split.path,
                    list(self.headers.items()),
                    split.query,
                    raw,
                    source_ip=self.client_address[0],
                )
            self.send_response(status)
            for k, v in headers.items_all():
                if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _do

        def log_message(self, format: str, *args: Any) -> None:
            LOG.debug("gateway: " + format, *args)

    server = _Server((host, port), _Handler)
    thread = threading.Thread(target=server.serve_forever, name="swapflow-gateway", daemon=True)
    thread.start()
    LOG.info("gateway listening on http://%s:%d", host, server.server_address[1])
    return server
