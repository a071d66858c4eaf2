"""Which IP addresses a fetch may connect to (swapflow.net's SSRF rule): public unicast only, IPv4 and
IPv6 alike, including IPv4 addresses embedded in IPv6 (mapped, compatible, NAT64, 6to4)."""

from __future__ import annotations

import ipaddress

_V4_BLOCKED = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network", incl. 0.0.0.0
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # CGNAT (shared address space)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, incl. the instance metadata service
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. 255.255.255.255
    )
)
_V4_LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")

_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_V6_BLOCKED = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "2001::/23",  # IETF protocol assignments, incl. Teredo 2001::/32
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # SRv6 SIDs
    )
)
_V6_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_V6_6TO4 = ipaddress.IPv6Network("2002::/16")
_V6_COMPAT = ipaddress.IPv6Network("::/96")  # deprecated IPv4-compatible, also :: and ::1


def _public_v4(ip: ipaddress.IPv4Address, allow_loopback: bool) -> bool:
    if allow_loopback and ip in _V4_LOOPBACK:
        return True
    return not any(ip in net for net in _V4_BLOCKED)


def is_public_ip(ip: str, allow_loopback: bool = False) -> bool:
    """True when `ip` is a globally routable unicast address we may connect to.

    `allow_loopback` (local mode) admits 127.0.0.0/8 and ::1 (and ::ffff:127.x.y.z), nothing else.
    Anything that does not parse as an IP address is not public.
    """
    try:
        addr = ipaddress.ip_address(ip.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv4Address):
        return _public_v4(addr, allow_loopback)

    if addr.scope_id:  # fe80::1%eth0 and the like: only link-local addresses carry a zone
        return False
    if addr.ipv4_mapped is not None:  # ::ffff:a.b.c.d
        return _public_v4(addr.ipv4_mapped, allow_loopback)
    if addr == ipaddress.IPv6Address("::1"):
        return allow_loopback
    if addr in _V6_NAT64:  # 64:ff9b::a.b.c.d reaches a.b.c.d
        return _public_v4(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF), False)
    if addr in _V6_6TO4:  # 2002:aabb:ccdd::/48 reaches a.b.c.d
        embedded = addr.sixtofour
        return embedded is not None and _public_v4(embedded, False)
    if addr in _V6_COMPAT:  # ::, ::a.b.c.d
        return False
    # Only global unicast is public: this leaves out fc00::/7, fe80::/10, fec0::/10, ff00::/8,
    # 100::/64, 64:ff9b:1::/48 and everything unassigned.
    if addr not in _V6_GLOBAL_UNICAST:
        return False
    return not any(addr in net for net in _V6_BLOCKED)
