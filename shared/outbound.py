"""Which addresses outbound connections to user-given places (webhook URLs, SFTP hosts) may reach: public
ones only, unless a setting allows private networks (OUTBOUND_ALLOW_PRIVATE, for tests and trusted intranets).

Every such connection resolves its host once, here, checks every answer, and connects to the address that
was checked, so a name cannot resolve to a public address for the check and a private one for the connect.
A refused address is never connected to: the error says the address is not public, never whether a port
behind it is open.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from shared.errors import ReportsError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges that carry an IPv4 address inside (mapped, compatible, SIIT, NAT64, 6to4, Teredo): a public
# service is never reached through them, while each can lead to an internal IPv4 host.
_EMBEDS_IPV4 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::ffff:0:0/96",
        "::/96",
        "::ffff:0:0:0/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "2002::/16",
        "2001::/32",
    )
)
HINT = "only OUTBOUND_ALLOW_PRIVATE=true (for trusted networks) allows it"


class Blocked(ReportsError):
    """The URL or host points at an address this service may not call."""


class Unresolved(ReportsError):
    """A host name has no address (yet): worth trying again later."""


def is_public(address: Address) -> bool:
    """A globally routable unicast address that does not embed an IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
        if address.is_site_local or any(address in net for net in _EMBEDS_IPV4):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


def allowed_address(text: str | Address, allow_private: bool) -> bool:
    address = text if not isinstance(text, str) else ipaddress.ip_address(text.split("%", 1)[0])
    return allow_private or is_public(address)


def literal_address(host: str) -> Address | None:
    """The address a host names by itself, in any form a resolver takes (127.1, 2130706433, 0x7f.0.0.1)."""
    text = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if not text or not all(c.isalnum() or c == "." for c in text):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def _local_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def check_host(host: str, allow_private: bool) -> None:
    """Refuse, without resolving, a host that names a non-public address or the local machine."""
    if allow_private:
        return
    address = literal_address(host)
    if address is not None and not is_public(address):
        raise Blocked(f"{host.strip('[]')} is a non-public address")
    if address is None and _local_name(host):
        raise Blocked(f"{host} is the local machine, a non-public address")


def check_url(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise Blocked("the URL must use https")
    if "@" in parts.netloc:
        # It would be stored, and shown to every member as the destination's target.
        raise Blocked(
            "the URL must not carry a user name or password (user:password@); the signing secret authenticates"
        )
    check_host(parts.hostname or "", allow_private)


def check_answers(host: str, answers: list[str], allow_private: bool) -> None:
    """Refuse a name when any of its addresses is not public: the connection could go to any of them."""
    if not allow_private and any(not allowed_address(a, False) for a in answers):
        raise Blocked(f"{host} resolves to a non-public address")


async def resolve(host: str, port: int, allow_private: bool) -> list[str]:
    """The addresses to connect to for `host`, in the resolver's order: resolved once, every answer checked."""
    check_host(host, allow_private)
    address = literal_address(host)
    if address is not None:
        return [str(address)]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolved(f"{host} cannot be resolved ({exc.__class__.__name__})") from exc
    answers = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not answers:
        raise Unresolved(f"{host} has no address")
    check_answers(host, answers, allow_private)
    return answers
