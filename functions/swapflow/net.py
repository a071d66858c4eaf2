"""The only URL fetcher in swapflow: public http(s) only, DNS-checked, redirects re-checked, sizes capped.

Every outgoing request to a URL we did not build ourselves goes through `fetch` (input images, provider
result URLs, outgoing webhooks through `post_json`). The rules (no SSRF):

* scheme `https`; `http` only when the policy allows it (local mode);
* no credentials in the URL, a valid port;
* the host is resolved once and *every* address must be public (swapflow.netaddr: no loopback, private,
  CGNAT, link-local incl. 169.254.169.254, unique-local, multicast, reserved, documentation or unspecified
  address, IPv4 or IPv6, embedded or not). Local mode lets loopback through only at the stack's own endpoints
  (`trusted`: the local AWS endpoint, the API, the provider base URLs), never the whole of 127.0.0.0/8;
  `allow_loopback` (all of loopback) is for tests and local client webhooks;
* the connection goes to the vetted IP itself (the `Host` header, TLS SNI and certificate check use
  the hostname), so a second DNS answer cannot rebind the request to another address;
* redirects are never followed automatically: each `Location` is resolved against the current URL and
  goes through the same checks, at most `max_redirects` times;
* the body is streamed with a running byte cap (`Content-Length` is checked first when present), and the
  whole fetch, redirects included, runs against one deadline.

Standard library and urllib3 only: this module ships in every Lambda.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

import urllib3
from urllib3 import exceptions as u3exc
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from .netaddr import is_public_ip

__all__ = ["FetchError", "FetchPolicy", "Fetched", "check_url", "fetch", "is_public_ip", "post_json", "trusted_origins"]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
# Headers that must not follow a redirect to another origin.
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})

Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class FetchPolicy:
    """What a fetch may do. The defaults are the production rules; local mode sets the two `allow_`s."""

    allow_http: bool = False
    allow_loopback: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES
    # (host, port) pairs whose loopback addresses are allowed: the local stack's own endpoints (DESIGN 7).
    trusted: frozenset[tuple[str, int]] = frozenset()
    timeout: float = 10.0  # seconds, for the whole fetch (connects, reads, redirects)
    max_redirects: int = 5

    @classmethod
    def trusting(cls, urls: Iterable[str], **overrides: Any) -> FetchPolicy:
        """Local mode for reads: http allowed, and loopback only at these URLs' (host, port), so an image URL
        reaches the stack's own endpoints and nothing else that listens on 127.0.0.1."""
        return cls(allow_http=True, trusted=trusted_origins(urls), **overrides)

    @classmethod
    def for_mode(cls, local: bool, **overrides: Any) -> FetchPolicy:
        """The production policy, or the local-stack one (http and 127.0.0.1 allowed)."""
        if local:
            overrides.setdefault("allow_http", True)
            overrides.setdefault("allow_loopback", True)
        return cls(**overrides)


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str | None
    url: str  # the final URL, after redirects
    status: int = 200  # always a 2xx: error statuses raise FetchError


class FetchError(Exception):
    """A refused or failed fetch. `code` is a job error code:

    * ``url_not_allowed``: scheme, credentials, port, or a host resolving to a refused address;
    * ``url_unreachable``: DNS failure, connect/TLS error, timeout, HTTP status >= 400, too many redirects;
    * ``too_large``: `Content-Length` or the streamed body over `max_bytes`.
    """

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status  # the HTTP status when the server answered with an error status

    def __repr__(self) -> str:
        return f"FetchError({self.code!r}, {self.message!r})"


# --------------------------------------------------------------------------------------------------
# URL checks


def _default_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # ASCII (IDNA) hostname or bare IP literal, lowercase
    port: int
    path: str  # path + query, never empty
    url: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _refuse(message: str) -> FetchError:
    return FetchError("url_not_allowed", message)


def _parse(url: str, policy: FetchPolicy) -> _Target:
    if not isinstance(url, str) or not url:
        raise _refuse("the URL is empty")
    if len(url) > 8192:
        raise _refuse("the URL is too long")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise _refuse("the URL contains whitespace or control characters")
    try:
        parts: SplitResult = urlsplit(url)
    except ValueError as exc:
        raise _refuse(f"the URL does not parse: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme == "http":
        if not policy.allow_http:
            raise _refuse("only https URLs are allowed")
    elif scheme != "https":
        raise _refuse(f"the URL scheme '{scheme or '(none)'}' is not allowed; use https")
    netloc = parts.netloc
    if "@" in netloc or parts.username is not None or parts.password is not None:
        raise _refuse("credentials in the URL are not allowed")
    if "\\" in netloc:
        raise _refuse("the URL host is malformed")
    try:
        port = parts.port
    except ValueError:
        raise _refuse("the URL port is invalid") from None
    if port is None:
        port = 443 if scheme == "https" else 80
    if not 1 <= port <= 65535:
        raise _refuse("the URL port is invalid")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise _refuse("the URL has no host")
    if not _is_ip_literal(host):
        if "%" in host or "[" in netloc:
            raise _refuse("the URL host is malformed")
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise _refuse("the URL host is not a valid hostname") from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return _Target(scheme=scheme, host=host, port=port, path=path, url=url)


def _vet(target: _Target, policy: FetchPolicy, resolver: Resolver | None) -> list[str]:
    if _is_ip_literal(target.host):
        addresses = [target.host]  # never handed to a resolver: it would accept odd forms too
    else:
        try:
            addresses = _unique((resolver or _default_resolver)(target.host, target.port))
        except FetchError:
            raise
        except (OSError, UnicodeError) as exc:
            raise FetchError("url_unreachable", f"cannot resolve {target.host}: {exc}") from None
        if not addresses:
            raise FetchError("url_unreachable", f"cannot resolve {target.host}: no addresses")
    loopback_ok = policy.allow_loopback or (target.host, target.port) in policy.trusted
    refused = [ip for ip in addresses if not is_public_ip(ip, loopback_ok)]
    if refused:
        raise _refuse(f"the host {target.host} resolves to a non-public address ({refused[0]})")
    return addresses


def trusted_origins(urls: Iterable[str]) -> frozenset[tuple[str, int]]:
    """The (host, port) of each URL (default ports filled in); empty and unparsable ones are left out."""
    found: set[tuple[str, int]] = set()
    for url in urls:
        try:
            parts = urlsplit(url or "")
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            continue
        if parts.hostname:
            found.add((parts.hostname.lower().rstrip("."), port))
    return frozenset(found)


def check_url(url: str, policy: FetchPolicy, resolver: Resolver | None = None) -> list[str]:
    """Validate `url` under `policy`; return the vetted IP addresses of its host (all public).

    Raises `FetchError` (`url_not_allowed`, or `url_unreachable` when the host does not resolve).
    """
    return _vet(_parse(url, policy), policy, resolver)


# --------------------------------------------------------------------------------------------------
# Fetching


def _pool(target: _Target, ip: str, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    common: dict[str, Any] = {"port": target.port, "timeout": timeout, "maxsize": 1, "retries": False}
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            ip,
            cert_reqs="CERT_REQUIRED",
            server_hostname=target.host,
            assert_hostname=target.host,
            **common,
        )
    return urllib3.HTTPConnectionPool(ip, **common)


def _remaining(deadline: float, url: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError("url_unreachable", f"timed out fetching {url}")
    return left


def _read_capped(response: Any, policy: FetchPolicy, deadline: float, url: str) -> bytes:
    length = response.headers.get("Content-Length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            declared = -1
        if declared > policy.max_bytes:
            raise FetchError("too_large", f"{url} is {declared} bytes, over the {policy.max_bytes}-byte limit")
    chunks: list[bytes] = []
    total = 0
    read = response.read1 if hasattr(response, "read1") else response.read
    while True:
        _remaining(deadline, url)
        chunk = read(_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > policy.max_bytes:
            raise FetchError("too_large", f"{url} is over the {policy.max_bytes}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _request(
    target: _Target,
    addresses: list[str],
    method: str,
    body: bytes | None,
    headers: dict[str, str],
    deadline: float,
) -> tuple[Any, urllib3.HTTPConnectionPool]:
    """Send the request to the first vetted address that accepts a connection."""
    last: Exception | None = None
    for ip in addresses:
        left = _remaining(deadline, target.url)
        pool = _pool(target, ip, urllib3.Timeout(connect=left, read=left))
        try:
            response = pool.urlopen(
                method,
                target.path,
                body=body,
                headers={**headers, "Host": target.host_header},
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=True,
            )
            return response, pool
        except (u3exc.NewConnectionError, u3exc.ConnectTimeoutError) as exc:
            pool.close()
            last = exc
        except (Urllib3HTTPError, OSError) as exc:
            pool.close()
            raise FetchError("url_unreachable", f"cannot fetch {target.url}: {_describe(exc)}") from None
    raise FetchError("url_unreachable", f"cannot connect to {target.url}: {_describe(last)}")


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, u3exc.NewConnectionError):  # (a subclass of ConnectTimeoutError)
        return "connection failed"
    if isinstance(exc, u3exc.TimeoutError | TimeoutError):
        return "timed out"
    if isinstance(exc, u3exc.SSLError):
        return f"TLS error ({exc})"
    return f"{type(exc).__name__}: {exc}" if exc is not None else "no address"


def fetch(
    url: str,
    policy: FetchPolicy = FetchPolicy(),  # frozen, so a shared default is safe
    *,
    resolver: Resolver | None = None,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
    body: bytes | None = None,
) -> Fetched:
    """Fetch `url` under `policy` (see the module docstring); return the body, its type and final URL.

    Raises `FetchError` with code `url_not_allowed`, `url_unreachable` or `too_large`.
    """
    deadline = time.monotonic() + policy.timeout
    method = method.upper()
    request_headers = {k: v for k, v in (headers or {}).items() if k.lower() != "host"}
    target = _parse(url, policy)
    redirects = 0
    while True:
        addresses = _vet(target, policy, resolver)
        response, pool = _request(target, addresses, method, body, request_headers, deadline)
        try:
            status = int(response.status)
            if status in REDIRECT_STATUSES:
                location = response.headers.get("Location")
                if not location:
                    raise FetchError("url_unreachable", f"{target.url} answered HTTP {status} without a Location")
                redirects += 1
                if redirects > policy.max_redirects:
                    raise FetchError("url_unreachable", f"too many redirects (more than {policy.max_redirects})")
                next_target = _parse(urljoin(target.url, location.strip()), policy)
                if status == 303 or (status in (301, 302) and method == "POST"):
                    method, body = ("HEAD" if method == "HEAD" else "GET"), None
                    request_headers = {
                        k: v for k, v in request_headers.items() if k.lower() not in ("content-type", "content-length")
                    }
                if next_target.origin != target.origin:
                    request_headers = {k: v for k, v in request_headers.items() if k.lower() not in _CREDENTIAL_HEADERS}
                target = next_target
                continue
            if status >= 400:
                raise FetchError("url_unreachable", f"{target.url} answered HTTP {status}", status)
            if status >= 300 or status < 200:
                raise FetchError("url_unreachable", f"{target.url} answered unexpected HTTP {status}", status)
            try:
                data = _read_capped(response, policy, deadline, target.url)
            except (Urllib3HTTPError, OSError) as exc:
                raise FetchError("url_unreachable", f"cannot read {target.url}: {_describe(exc)}") from None
            return Fetched(data=data, content_type=response.headers.get("Content-Type"), url=target.url, status=status)
        finally:
            response.close()
            pool.close()


def post_json(
    url: str,
    payload: Any,
    policy: FetchPolicy = FetchPolicy(),  # frozen, so a shared default is safe
    headers: Mapping[str, str] | None = None,
    *,
    resolver: Resolver | None = None,
) -> Fetched:
    """POST `payload` as JSON to `url` through `fetch` (same rules). Returns the answer."""
    body = json.dumps(payload, separators=(",", ":"), default=str).encode("utf-8")
    all_headers = {"Content-Type": "application/json", "Accept": "application/json"}
    all_headers.update(headers or {})
    return fetch(url, policy, resolver=resolver, headers=all_headers, method="POST", body=body)
