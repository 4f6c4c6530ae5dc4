"""Which addresses outbound calls to user-given URLs (webhooks) may reach: public ones only, unless a
setting allows private networks (OUTBOUND_ALLOW_PRIVATE, for tests and trusted intranets)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from shared.errors import ReportsError


class Blocked(ReportsError):
    """The URL points at an address this service may not call."""


def allowed_address(text: str, allow_private: bool) -> bool:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return allow_private or address.is_global


def check_url(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise Blocked("the URL must use https")
    host = (parts.hostname or "").strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return
    if not allowed_address(host, allow_private):
        raise Blocked(f"{host} is a non-public address")
