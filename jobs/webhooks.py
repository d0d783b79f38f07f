"""Webhook destinations and signatures, shared by the API (checks at submission) and the
worker (checks again at delivery: DNS may have changed in between).

A destination whose address is private, loopback, link-local, multicast or reserved is
refused unless its host or address is in the allowlist: the service must not be turned
into a way to reach the operator's internal network. An IPv6 address that embeds an IPv4
one (IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16) is judged by the IPv4 it reaches.
An allowlist entry is a host name, an address or a network, optionally with a port
(`cms.internal:443`, `10.1.2.3:8080`, `[fd00::1]:8443`): with a port it opens only that port.

The signature covers a timestamp: `X-Newsnlp-Signature: sha256=<hex HMAC-SHA256 of
"<X-Newsnlp-Timestamp>." + body>`, so that a receiver can refuse an old request replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from jobs.env import ConfigError

SIGNATURE_HEADER = "X-Newsnlp-Signature"
TIMESTAMP_HEADER = "X-Newsnlp-Timestamp"
# How old a signed request a receiver should still accept (what `verify` allows by default).
REPLAY_TOLERANCE_SECONDS = 300

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(ValueError):
    """The callback URL may not be called; the message says why."""


@dataclass(frozen=True)
class Destination:
    """A checked callback URL: where to connect (the addresses checked), and how."""

    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]
    target: str  # the path and query, as sent in the request line


def _split_entry(entry: str) -> tuple[str, int | None]:
    """`host[:port]`, `address[:port]`, `[v6]:port` or a network: (host or network, port)."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    else:  # a bare IPv6 address or network, or a name or IPv4 without a port
        host, port = entry, ""
    if not port:
        return host, None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"NEWSNLP_WEBHOOK_ALLOWLIST: bad port in {entry!r}")
    return host, int(port)


def parse_allowlist(raw: str | None) -> tuple[str, ...]:
    """The entries of NEWSNLP_WEBHOOK_ALLOWLIST, lower-cased; a bad port is a ConfigError."""
    entries = tuple(item.strip().lower() for item in (raw or "").split(",") if item.strip())
    for entry in entries:
        _split_entry(entry)
    return entries


def _allowed(host: str, port: int, address: IPAddress, allowlist: Iterable[str]) -> bool:
    for entry in allowlist:
        name, pinned = _split_entry(entry)
        if pinned is not None and pinned != port:
            continue
        if name == host:
            return True
        try:
            if address in ipaddress.ip_network(name, strict=False):
                return True
        except ValueError:
            continue
    return False


def _reached(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def _public(address: IPAddress) -> bool:
    return address.is_global and not address.is_multicast


def check_destination(url: str, allowlist: Iterable[str] = ()) -> Destination:
    """The destination of `url`, or DestinationRefused unless it is http(s) to a public (or
    allowed) address. Connect to the addresses it returns, not to a new lookup of the host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationRefused("the callback URL must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise DestinationRefused("the callback URL must not carry credentials")
    try:
        port = parts.port
        if port is None:
            port = 443 if parts.scheme == "https" else 80
    except ValueError:  # urllib's own check: not a number, or not in 0-65535
        raise DestinationRefused("the callback URL's port is not valid") from None
    if not 1 <= port <= 65535:
        raise DestinationRefused("the callback URL's port is not valid")
    host = parts.hostname.lower()
    allowlist = tuple(allowlist)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise DestinationRefused("the callback host does not resolve") from None
    addresses: list[str] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        reached = _reached(address)
        public = _public(address) and _public(reached)
        allowed = _allowed(host, port, address, allowlist) or (
            reached != address and _allowed(host, port, reached, allowlist)
        )
        if not public and not allowed:
            raise DestinationRefused(
                "the callback host resolves to a private, loopback or reserved address"
            )
        if str(address) not in addresses:
            addresses.append(str(address))
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Destination(parts.scheme, host, port, tuple(addresses), target)


def sign(secret: str, body: bytes, timestamp: str) -> str:
    """The signature header value: `sha256=<hex HMAC-SHA256 of "<timestamp>." + body>`."""
    message = timestamp.encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    body: bytes,
    header: str,
    timestamp: str,
    tolerance: float = REPLAY_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether `header` signs `body` at `timestamp`, and the timestamp is recent enough."""
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except ValueError:
        return False
    if abs(age) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)
