"""Unit tests of swapflow.net: address and URL rules, and fetch's redirect/cap logic on a fake pool.

No sockets: DNS goes through an injected resolver and urllib3's pools are replaced by a fake.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Callable
from typing import Any

import pytest
import urllib3
from swapflow import net
from swapflow.net import FetchError, FetchPolicy, check_url, fetch, is_public_ip, post_json, trusted_origins
from urllib3 import HTTPHeaderDict

PROD = FetchPolicy()
LOCAL = FetchPolicy(allow_http=True, allow_loopback=True)


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("unit tests must not open sockets or resolve names")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def resolver_for(table: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


PUBLIC = resolver_for({"images.example": ["93.184.216.34"], "cdn.example": ["2606:4700::1111"]})


# ------------------------------------------------------------------------------------------------
# is_public_ip

REFUSED_ADDRESSES = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "169.254.169.254",  # instance metadata
    "169.254.0.1",
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "198.18.0.1",  # benchmarking
    "::1",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456:789a::1",
    "fec0::1",  # deprecated site-local
    "ff02::1",  # multicast
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2001:db8::1",  # documentation
    "2001::1",  # Teredo
    "100::1",  # discard
    "not-an-ip",
    "",
    "1.2.3",
]

PUBLIC_ADDRESSES = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "172.32.0.1",  # just outside 172.16/12
    "100.128.0.1",  # just outside 100.64/10
    "2606:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize("ip", REFUSED_ADDRESSES)
def test_given_non_public_address_when_checked_then_not_public(ip: str) -> None:
    assert is_public_ip(ip) is False


@pytest.mark.parametrize("ip", PUBLIC_ADDRESSES)
def test_given_public_address_when_checked_then_public(ip: str) -> None:
    assert is_public_ip(ip) is True
    assert is_public_ip(ip, allow_loopback=True) is True


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"])
def test_given_loopback_when_local_mode_then_allowed(ip: str) -> None:
    assert is_public_ip(ip, allow_loopback=True) is True


@pytest.mark.parametrize(
    "ip", ["10.0.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "fc00::1", "fe80::1", "::"]
)
def test_given_private_address_when_local_mode_then_still_refused(ip: str) -> None:
    assert is_public_ip(ip, allow_loopback=True) is False


# ------------------------------------------------------------------------------------------------
# check_url


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://images.example/a.jpg",
        "gopher://images.example:70/_GET",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "//images.example/a.jpg",
        "images.example/a.jpg",
        "",
    ],
)
def test_given_unsupported_scheme_when_checked_then_url_not_allowed(url: str) -> None:
    with pytest.raises(FetchError) as err:
        check_url(url, PROD, resolver=PUBLIC)
    assert err.value.code == "url_not_allowed"


def test_given_http_url_when_policy_refuses_http_then_url_not_allowed() -> None:
    with pytest.raises(FetchError) as err:
        check_url("http://images.example/a.jpg", PROD, resolver=PUBLIC)
    assert err.value.code == "url_not_allowed"
    assert "https" in err.value.message


def test_given_http_url_when_allow_http_then_vetted() -> None:
    policy = FetchPolicy(allow_http=True)
    assert check_url("http://images.example/a.jpg", policy, resolver=PUBLIC) == ["93.184.216.34"]


def test_given_https_url_when_checked_then_returns_vetted_ips_and_resolves_with_port() -> None:
    calls: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return ["93.184.216.34", "93.184.216.34", "2606:4700::1111"]

    assert check_url("HTTPS://Images.Example:8443/a.jpg?x=1", PROD, resolver=resolve) == [
        "93.184.216.34",
        "2606:4700::1111",
    ]
    assert calls == [("images.example", 8443)]


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pass@images.example/a.jpg",
        "https://user@images.example/a.jpg",
        "https://:@images.example/a.jpg",
        "https://images.example@169.254.169.254/",
    ],
)
def test_given_credentials_in_url_when_checked_then_url_not_allowed(url: str) -> None:
    with pytest.raises(FetchError) as err:
        check_url(url, PROD, resolver=PUBLIC)
    assert err.value.code == "url_not_allowed"


@pytest.mark.parametrize(
    "url",
    [
        "https://images.example:0/",
        "https://images.example:99999/",
        "https://images.example:abc/",
        "https:///a.jpg",
        "https://images.example /a.jpg",
        "https://images.example/a\nb",
        "https://images.example\\@169.254.169.254/",
        "https://[images.example]/",
    ],
)
def test_given_malformed_url_when_checked_then_url_not_allowed(url: str) -> None:
    with pytest.raises(FetchError) as err:
        check_url(url, PROD, resolver=PUBLIC)
    assert err.value.code == "url_not_allowed"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[fe80::1%25eth0]/",
        "https://0.0.0.0/",
        "https://10.1.2.3/",
    ],
)
def test_given_ip_literal_host_when_not_public_then_url_not_allowed_without_dns(url: str) -> None:
    def resolve(host: str, port: int) -> list[str]:
        raise AssertionError("IP literals are not resolved")

    with pytest.raises(FetchError) as err:
        check_url(url, PROD, resolver=resolve)
    assert err.value.code == "url_not_allowed"


def test_given_public_ip_literal_when_checked_then_returned_without_dns() -> None:
    assert check_url("https://[2606:4700::1111]/x", PROD, resolver=resolver_for({})) == ["2606:4700::1111"]
    assert check_url("https://8.8.8.8/x", PROD, resolver=resolver_for({})) == ["8.8.8.8"]


@pytest.mark.parametrize(
    "answers",
    [["10.0.0.5"], ["93.184.216.34", "127.0.0.1"], ["169.254.169.254"], ["::ffff:192.168.0.1"]],
)
def test_given_hostname_resolving_to_non_public_address_when_checked_then_url_not_allowed(
    answers: list[str],
) -> None:
    with pytest.raises(FetchError) as err:
        check_url("https://evil.example/", PROD, resolver=resolver_for({"evil.example": answers}))
    assert err.value.code == "url_not_allowed"


def test_given_odd_numeric_host_when_it_resolves_to_loopback_then_url_not_allowed() -> None:
    resolve = resolver_for({"2130706433": ["127.0.0.1"], "0x7f.1": ["127.0.0.1"]})
    for url in ("https://2130706433/", "https://0x7f.1/"):
        with pytest.raises(FetchError) as err:
            check_url(url, PROD, resolver=resolve)
        assert err.value.code == "url_not_allowed"


def test_given_loopback_host_when_local_mode_then_allowed_but_private_still_refused() -> None:
    resolve = resolver_for({"localhost": ["127.0.0.1", "::1"], "lan.example": ["192.168.0.10"]})
    assert check_url("http://localhost:4566/x", LOCAL, resolver=resolve) == ["127.0.0.1", "::1"]
    with pytest.raises(FetchError) as err:
        check_url("http://lan.example/x", LOCAL, resolver=resolve)
    assert err.value.code == "url_not_allowed"


def test_given_unknown_host_when_checked_then_url_unreachable() -> None:
    with pytest.raises(FetchError) as err:
        check_url("https://nowhere.example/", PROD, resolver=PUBLIC)
    assert err.value.code == "url_unreachable"


def test_given_resolver_returning_nothing_when_checked_then_url_unreachable() -> None:
    with pytest.raises(FetchError) as err:
        check_url("https://empty.example/", PROD, resolver=resolver_for({"empty.example": []}))
    assert err.value.code == "url_unreachable"


def test_given_idn_host_when_checked_then_resolved_as_punycode() -> None:
    seen: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        seen.append(host)
        return ["93.184.216.34"]

    check_url("https://bücher.example/a.png", PROD, resolver=resolve)
    assert seen == ["xn--bcher-kva.example"]


LOOPBACK = lambda host, port: ["127.0.0.1"]  # noqa: E731  (every name here resolves to loopback)
OWN = FetchPolicy.trusting(["http://127.0.0.1:4566", "http://127.0.0.1:8000/", "https://sim.localhost:9001/x"])


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:4566/bucket/a.jpg", "http://127.0.0.1:8000/v1/openapi.json", "https://sim.localhost:9001/o"],
)
def test_given_local_mode_when_a_url_is_one_of_the_stacks_endpoints_then_allowed(url: str) -> None:
    assert check_url(url, OWN, resolver=LOOPBACK) == ["127.0.0.1"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/a.jpg",  # another port on loopback
        "http://127.0.0.2:4566/a.jpg",  # another loopback address, same port
        "http://localhost:4566/a.jpg",  # another name for it: the trust is by (host, port) as configured
        "http://[::1]:4566/a.jpg",
        "http://2130706433:4566/a.jpg",  # decimal spelling of 127.0.0.1
        "http://10.0.0.1:4566/a.jpg",  # trust never extends beyond loopback
    ],
)
def test_given_local_mode_when_a_loopback_url_is_not_the_stacks_then_refused(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url, OWN, resolver=LOOPBACK)
    assert caught.value.code == "url_not_allowed"


def test_given_trusted_origins_when_built_then_default_ports_and_case_are_normalised() -> None:
    assert trusted_origins(["https://API.example", "http://x:81/a", "", "http://[bad"]) == frozenset(
        {("api.example", 443), ("x", 81)}
    )


def test_given_for_mode_when_local_then_http_and_loopback_allowed() -> None:
    assert FetchPolicy.for_mode(True) == FetchPolicy(allow_http=True, allow_loopback=True)
    assert FetchPolicy.for_mode(False, max_bytes=5) == FetchPolicy(max_bytes=5)


# ------------------------------------------------------------------------------------------------
# fetch, on a fake urllib3 pool


class FakeResponse:
    def __init__(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers = HTTPHeaderDict(headers or {})
        self._body = io.BytesIO(body)
        self.reads = 0
        self.closed = False

    def read1(self, amt: int = -1) -> bytes:
        self.reads += 1
        return self._body.read(min(amt, 1000))

    def close(self) -> None:
        self.closed = True


class FakeServer:
    """Stands in for urllib3's pools: records each connection and request, answers from `routes`."""

    def __init__(self, routes: dict[tuple[str, str], FakeResponse]) -> None:
        self.routes = routes
        self.pools: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []

    def pool_class(self, scheme: str) -> type:
        server = self

        class Pool:
            def __init__(self, host: str, **kwargs: Any) -> None:
                server.pools.append({"scheme": scheme, "host": host, **kwargs})
                self.host = host

            def urlopen(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
                server.requests.append({"ip": self.host, "method": method, "path": url, **kwargs})
                assert kwargs["redirect"] is False and kwargs["preload_content"] is False
                return server.routes[(self.host, url)]

            def close(self) -> None:
                pass

        return Pool


@pytest.fixture
def fake_server(
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[dict[tuple[str, str], FakeResponse]], FakeServer]:
    def install(routes: dict[tuple[str, str], FakeResponse]) -> FakeServer:
        server = FakeServer(routes)
        monkeypatch.setattr(urllib3, "HTTPSConnectionPool", server.pool_class("https"))
        monkeypatch.setattr(urllib3, "HTTPConnectionPool", server.pool_class("http"))
        return server

    return install


def test_given_https_url_when_fetched_then_connects_to_vetted_ip_with_hostname_for_tls_and_host(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server(
        {("93.184.216.34", "/a.jpg?s=1"): FakeResponse(200, b"JPEGDATA", {"Content-Type": "image/jpeg"})}
    )
    got = fetch("https://images.example/a.jpg?s=1#frag", resolver=PUBLIC, headers={"Host": "evil"})
    assert got == net.Fetched(b"JPEGDATA", "image/jpeg", "https://images.example/a.jpg?s=1#frag")
    (pool,) = server.pools
    assert pool["host"] == "93.184.216.34"
    assert pool["server_hostname"] == "images.example"
    assert pool["assert_hostname"] == "images.example"
    assert pool["cert_reqs"] == "CERT_REQUIRED"
    (request,) = server.requests
    assert request["headers"]["Host"] == "images.example"
    assert request["retries"] is False


def test_given_ipv6_host_and_port_when_fetched_then_host_header_carries_them(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server({("2606:4700::1111", "/"): FakeResponse(200, b"x")})
    fetch("https://cdn.example:8443", resolver=PUBLIC)
    assert server.requests[0]["headers"]["Host"] == "cdn.example:8443"
    assert server.pools[0]["port"] == 8443


def test_given_redirect_to_host_resolving_private_when_fetched_then_refused_before_connecting(
    fake_server: Callable[..., FakeServer],
) -> None:
    resolve = resolver_for({"images.example": ["93.184.216.34"], "internal.example": ["10.0.0.7"]})
    server = fake_server(
        {("93.184.216.34", "/a"): FakeResponse(302, headers={"Location": "https://internal.example/x"})}
    )
    with pytest.raises(FetchError) as err:
        fetch("https://images.example/a", resolver=resolve)
    assert err.value.code == "url_not_allowed"
    assert len(server.pools) == 1


def test_given_redirect_to_http_when_http_not_allowed_then_refused(
    fake_server: Callable[..., FakeServer],
) -> None:
    fake_server({("93.184.216.34", "/a"): FakeResponse(301, headers={"Location": "http://images.example/a"})})
    with pytest.raises(FetchError) as err:
        fetch("https://images.example/a", resolver=PUBLIC)
    assert err.value.code == "url_not_allowed"


def test_given_relative_redirect_when_fetched_then_resolved_against_current_url(
    fake_server: Callable[..., FakeServer],
) -> None:
    fake_server(
        {
            ("93.184.216.34", "/dir/a"): FakeResponse(307, headers={"Location": "b?x=1"}),
            ("93.184.216.34", "/dir/b?x=1"): FakeResponse(200, b"ok"),
        }
    )
    got = fetch("https://images.example/dir/a", resolver=PUBLIC)
    assert got.url == "https://images.example/dir/b?x=1"
    assert got.data == b"ok"


def test_given_post_and_303_when_redirected_then_get_without_body(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server(
        {
            ("93.184.216.34", "/hook"): FakeResponse(303, headers={"Location": "/done"}),
            ("93.184.216.34", "/done"): FakeResponse(200, b"{}"),
        }
    )
    post_json("https://images.example/hook", {"a": 1}, resolver=PUBLIC)
    first, second = server.requests
    assert (first["method"], json.loads(first["body"])) == ("POST", {"a": 1})
    assert first["headers"]["Content-Type"] == "application/json"
    assert (second["method"], second["body"]) == ("GET", None)
    assert "Content-Type" not in second["headers"]


def test_given_post_and_307_when_redirected_then_method_and_body_kept(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server(
        {
            ("93.184.216.34", "/hook"): FakeResponse(307, headers={"Location": "/hook2"}),
            ("93.184.216.34", "/hook2"): FakeResponse(204),
        }
    )
    got = fetch("https://images.example/hook", method="post", body=b"payload", resolver=PUBLIC)
    assert got.data == b""
    assert [(r["method"], r["body"]) for r in server.requests] == [("POST", b"payload"), ("POST", b"payload")]


def test_given_cross_origin_redirect_when_fetched_then_credentials_dropped(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server(
        {
            ("93.184.216.34", "/a"): FakeResponse(302, headers={"Location": "https://cdn.example/b"}),
            ("2606:4700::1111", "/b"): FakeResponse(200, b"ok"),
        }
    )
    fetch("https://images.example/a", resolver=PUBLIC, headers={"Authorization": "Bearer t", "X-Id": "1"})
    assert server.requests[0]["headers"]["Authorization"] == "Bearer t"
    assert "Authorization" not in server.requests[1]["headers"]
    assert server.requests[1]["headers"]["X-Id"] == "1"
    assert server.requests[1]["headers"]["Host"] == "cdn.example"


def test_given_redirect_without_location_when_fetched_then_url_unreachable(
    fake_server: Callable[..., FakeServer],
) -> None:
    fake_server({("93.184.216.34", "/a"): FakeResponse(302)})
    with pytest.raises(FetchError) as err:
        fetch("https://images.example/a", resolver=PUBLIC)
    assert err.value.code == "url_unreachable"


def test_given_redirect_loop_when_fetched_then_stops_after_max_redirects(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server({("93.184.216.34", "/a"): FakeResponse(302, headers={"Location": "/a"})})
    with pytest.raises(FetchError) as err:
        fetch("https://images.example/a", FetchPolicy(max_redirects=2), resolver=PUBLIC)
    assert err.value.code == "url_unreachable"
    assert "redirect" in err.value.message
    assert len(server.requests) == 3


@pytest.mark.parametrize("status", [400, 403, 404, 500, 503])
def test_given_error_status_when_fetched_then_url_unreachable_with_status(
    fake_server: Callable[..., FakeServer], status: int
) -> None:
    fake_server({("93.184.216.34", "/a"): FakeResponse(status, b"nope")})
    with pytest.raises(FetchError) as err:
        fetch("https://images.example/a", resolver=PUBLIC)
    assert err.value.code == "url_unreachable"
    assert str(status) in err.value.message


def test_given_content_length_over_cap_when_fetched_then_too_large_without_reading(
    fake_server: Callable[..., FakeServer],
) -> None:
    response = FakeResponse(200, b"x" * 10, {"Content-Length": "1000"})
    fake_server({("93.184.216.34", "/a"): response})
    with pytest.raises(FetchError) as err:
        fetch("https://images.example/a", FetchPolicy(max_bytes=100), resolver=PUBLIC)
    assert err.value.code == "too_large"
    assert response.reads == 0
    assert response.closed


def test_given_streamed_body_over_cap_when_fetched_then_too_large(
    fake_server: Callable[..., FakeServer],
) -> None:
    response = FakeResponse(200, b"x" * 50_000)
    fake_server({("93.184.216.34", "/a"): response})
    with pytest.raises(FetchError) as err:
        fetch("https://images.example/a", FetchPolicy(max_bytes=4_500), resolver=PUBLIC)
    assert err.value.code == "too_large"
    assert response.reads == 5  # stopped at the first chunk over the cap


def test_given_body_exactly_at_cap_when_fetched_then_returned(fake_server: Callable[..., FakeServer]) -> None:
    fake_server({("93.184.216.34", "/a"): FakeResponse(200, b"y" * 4_000, {"Content-Length": "4000"})})
    assert len(fetch("https://images.example/a", FetchPolicy(max_bytes=4_000), resolver=PUBLIC).data) == 4_000


def test_given_disallowed_url_when_fetched_then_no_connection_made(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server({})
    for url in ("http://images.example/", "https://169.254.169.254/", "file:///etc/passwd"):
        with pytest.raises(FetchError) as err:
            fetch(url, resolver=PUBLIC)
        assert err.value.code == "url_not_allowed"
    assert server.pools == []


def test_given_fetch_error_when_shown_then_code_and_message_available() -> None:
    err = FetchError("too_large", "over")
    assert (err.code, err.message, str(err)) == ("too_large", "over", "over")
    assert "too_large" in repr(err)
