"""Webhook destinations and signatures, shared by the API (checks at submission) and the
worker (checks again at delivery: DNS may have changed in between).

A destination whose address is private, loopback, link-local, multicast or reserved is
refused unless its host or address is in the allowlist: the service must not be turned
into a way to reach the operator's internal network.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-Newsnlp-Signature"


class DestinationRefused(ValueError):
    """The callback URL may not be called; the message says why."""


def parse_allowlist(raw: str | None) -> tuple[str, ...]:
    return tuple(item.strip().lower() for item in (raw or "").split(",") if item.strip())


def _allowed(host: str, address: ipaddress._BaseAddress, allowlist: Iterable[str]) -> bool:
    for entry in allowlist:
        if entry == host:
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def check_destination(url: str, allowlist: Iterable[str] = ()) -> None:
    """Raise DestinationRefused unless `url` is http(s) to a public (or allowed) address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationRefused("the callback URL must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise DestinationRefused("the callback URL must not carry credentials")
    host = parts.hostname.lower()
    allowlist = tuple(allowlist)
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise DestinationRefused("the callback host does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        public = address.is_global and not address.is_multicast
        if not public and not _allowed(host, address, allowlist):
            raise DestinationRefused(
                "the callback host resolves to a private, loopback or reserved address"
            )


def sign(secret: str, body: bytes) -> str:
    """The signature header value: `sha256=<hex HMAC-SHA256 of the body>`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(sign(secret, body), header)
