"""swapflow.net against a real HTTP server on 127.0.0.1 (local-mode policy), over real sockets."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from swapflow.net import FetchError, FetchPolicy, fetch, post_json

LOCAL = FetchPolicy(allow_http=True, allow_loopback=True, timeout=5.0)
IMAGE = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # bodies without Content-Length end when the connection closes

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str, status: int = 302) -> None:
        self._send(status, headers={"Location": location})

    def do_GET(self) -> None:
        path = self.path
        try:
            if path == "/image.png":
                self._send(200, IMAGE, {"Content-Type": "image/png"})
            elif path == "/host":
                self._send(200, (self.headers.get("Host") or "").encode(), {"Content-Type": "text/plain"})
            elif path == "/to-metadata":
                self._redirect("http://169.254.169.254/latest/meta-data/")
            elif path == "/to-private-name":
                self._redirect("http://internal.example/secret")
            elif path.startswith("/hop/"):  # /hop/N redirects N times, then serves the image
                left = int(path.rsplit("/", 1)[1])
                self._redirect(f"/hop/{left - 1}" if left > 0 else "/image.png")
            elif path == "/big":  # no Content-Length: the cap must hold while streaming
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                for _ in range(64):
                    self.wfile.write(b"z" * 16 * 1024)
            elif path == "/big-declared":
                self.send_response(200)
                self.send_header("Content-Length", str(50 * 1024 * 1024))
                self.end_headers()
                self.wfile.write(b"z" * 1024)
            elif path == "/slow":
                time.sleep(1.5)
                self._send(200, b"late")
            elif path == "/drip":  # headers at once, then a byte at a time, forever-ish
                self.send_response(200)
                self.end_headers()
                for _ in range(40):
                    self.wfile.write(b"d")
                    self.wfile.flush()
                    time.sleep(0.05)
            else:
                self._send(404, b"not found")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path == "/echo":
            answer = {"method": "POST", "body": json.loads(body), "type": self.headers.get("Content-Type")}
            self._send(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})
        elif self.path == "/moved":
            self._redirect("/echo", 307)
        else:
            self._send(404)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_given_local_policy_when_fetching_loopback_then_body_type_and_url_returned(base_url: str) -> None:
    got = fetch(f"{base_url}/image.png", LOCAL)
    assert got.data == IMAGE
    assert got.content_type == "image/png"
    assert got.url == f"{base_url}/image.png"


def test_given_production_policy_when_fetching_loopback_then_url_not_allowed(base_url: str) -> None:
    with pytest.raises(FetchError) as err:
        fetch(f"{base_url}/image.png", FetchPolicy(allow_http=True))
    assert err.value.code == "url_not_allowed"


def test_given_default_policy_when_fetching_http_then_url_not_allowed(base_url: str) -> None:
    with pytest.raises(FetchError) as err:
        fetch(f"{base_url}/image.png")
    assert err.value.code == "url_not_allowed"


def test_given_redirect_to_metadata_service_when_fetching_then_url_not_allowed(base_url: str) -> None:
    with pytest.raises(FetchError) as err:
        fetch(f"{base_url}/to-metadata", LOCAL)
    assert err.value.code == "url_not_allowed"
    assert "169.254.169.254" in err.value.message


def test_given_redirect_to_name_resolving_private_when_fetching_then_url_not_allowed(base_url: str) -> None:
    def resolve(host: str, port: int) -> list[str]:
        return {"internal.example": ["10.0.0.8"]}[host]

    with pytest.raises(FetchError) as err:
        fetch(f"{base_url}/to-private-name", LOCAL, resolver=resolve)
    assert err.value.code == "url_not_allowed"


def test_given_redirects_within_limit_when_fetching_then_followed(base_url: str) -> None:
    got = fetch(f"{base_url}/hop/3", LOCAL)
    assert got.data == IMAGE
    assert got.url == f"{base_url}/image.png"


def test_given_redirect_chain_longer_than_limit_when_fetching_then_refused(base_url: str) -> None:
    with pytest.raises(FetchError) as err:
        fetch(f"{base_url}/hop/10", FetchPolicy(allow_http=True, allow_loopback=True, max_redirects=5))
    assert err.value.code == "url_unreachable"
    assert "redirects" in err.value.message


def test_given_body_without_length_over_cap_when_fetching_then_too_large(base_url: str) -> None:
    policy = FetchPolicy(allow_http=True, allow_loopback=True, max_bytes=100 * 1024)
    with pytest.raises(FetchError) as err:
        fetch(f"{base_url}/big", policy)
    assert err.value.code == "too_large"


def test_given_declared_length_over_cap_when_fetching_then_too_large(base_url: str) -> None:
    with pytest.raises(FetchError) as err:
        fetch(f"{base_url}/big-declared", LOCAL)
    assert err.value.code == "too_large"


def test_given_missing_resource_when_fetching_then_url_unreachable_with_status(base_url: str) -> None:
    with pytest.raises(FetchError) as err:
        fetch(f"{base_url}/nothing-here", LOCAL)
    assert err.value.code == "url_unreachable"
    assert "404" in err.value.message


def test_given_slow_server_when_fetching_then_times_out_as_url_unreachable(base_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        fetch(f"{base_url}/slow", FetchPolicy(allow_http=True, allow_loopback=True, timeout=0.3))
    assert err.value.code == "url_unreachable"
    assert "timed out" in err.value.message
    assert time.monotonic() - started < 1.2


def test_given_dripping_body_when_deadline_passes_then_url_unreachable(base_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        fetch(f"{base_url}/drip", FetchPolicy(allow_http=True, allow_loopback=True, timeout=0.4))
    assert err.value.code == "url_unreachable"
    assert time.monotonic() - started < 1.2


def test_given_closed_port_when_fetching_then_url_unreachable() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as err:
        fetch(f"http://127.0.0.1:{port}/", LOCAL)
    assert err.value.code == "url_unreachable"


def test_given_public_name_rebound_to_loopback_when_fetching_then_url_not_allowed(base_url: str) -> None:
    port = base_url.rsplit(":", 1)[1]

    def rebinding(host: str, port: int) -> list[str]:
        return {"public.example": ["127.0.0.1"]}[host]

    with pytest.raises(FetchError) as err:
        fetch(f"http://public.example:{port}/image.png", FetchPolicy(allow_http=True), resolver=rebinding)
    assert err.value.code == "url_not_allowed"


def test_given_vetted_name_when_fetching_then_connects_to_vetted_ip_with_host_header(base_url: str) -> None:
    port = base_url.rsplit(":", 1)[1]
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    got = fetch(f"http://public.example:{port}/host", LOCAL, resolver=resolve)
    assert got.data == f"public.example:{port}".encode()
    assert calls == ["public.example"]  # resolved once, never again by the connection


def test_given_json_payload_when_posted_then_server_gets_json_through_307(base_url: str) -> None:
    got = post_json(f"{base_url}/moved", {"job": "j-1", "state": "succeeded"}, LOCAL)
    assert json.loads(got.data) == {
        "method": "POST",
        "body": {"job": "j-1", "state": "succeeded"},
        "type": "application/json",
    }


# ------------------------------------------------------------------------------------------------
# TLS to the vetted IP: SNI and certificate checked against the hostname, not the address


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str, list[str | None]]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=public.example",
         "-addext", "subjectAltName=DNS:public.example"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    seen_sni: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _ctx: seen_sni.append(name)  # type: ignore[assignment,func-returns-value]
    server = Server(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], str(cert), seen_sni
    finally:
        server.shutdown()
        server.server_close()


def loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def test_given_https_name_vetted_to_ip_when_fetching_then_tls_uses_hostname_for_sni_and_certificate(
    tls_server: tuple[int, str, list[str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, ca_file, seen_sni = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    policy = FetchPolicy(allow_loopback=True, timeout=5.0)
    got = fetch(f"https://public.example:{port}/host", policy, resolver=loopback)
    assert got.data == f"public.example:{port}".encode()
    assert seen_sni[-1] == "public.example"


def test_given_https_certificate_for_another_name_when_fetching_then_url_unreachable(
    tls_server: tuple[int, str, list[str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, ca_file, _ = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    policy = FetchPolicy(allow_loopback=True, timeout=5.0)
    with pytest.raises(FetchError) as err:
        fetch(f"https://other.example:{port}/image.png", policy, resolver=loopback)
    assert err.value.code == "url_unreachable"
    assert "TLS" in err.value.message


def test_given_untrusted_certificate_when_fetching_then_url_unreachable(
    tls_server: tuple[int, str, list[str | None]],
) -> None:
    port, _, _ = tls_server
    with pytest.raises(FetchError) as err:
        fetch(f"https://public.example:{port}/image.png", FetchPolicy(allow_loopback=True), resolver=loopback)
    assert err.value.code == "url_unreachable"


# ------------------------------------------------------------------------------------------------
# IPv6 loopback


class Server6(Server):
    address_family = socket.AF_INET6


def test_given_ipv6_loopback_answer_when_fetching_locally_then_connects_over_ipv6() -> None:
    try:
        server = Server6(("::1", 0), Handler)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        got = fetch(f"http://[::1]:{port}/host", LOCAL)
        assert got.data == f"[::1]:{port}".encode()
        got = fetch(f"http://public.example:{port}/image.png", LOCAL, resolver=lambda h, p: ["::1"])
        assert got.data == IMAGE
        with pytest.raises(FetchError) as err:
            fetch(f"http://[::1]:{port}/image.png", FetchPolicy(allow_http=True))
        assert err.value.code == "url_not_allowed"
    finally:
        server.shutdown()
        server.server_close()
