"""The outbound address guard, form by form: every way to write a non-public address is refused."""

from __future__ import annotations

import pytest

from shared.outbound import Blocked, allowed_address, check_host, check_url, literal_address

REFUSED = {
    "127.0.0.1": "loopback",
    "10.0.0.1": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local (cloud metadata)",
    "100.64.0.1": "carrier-grade NAT",
    "0.0.0.0": "unspecified",
    "224.0.0.1": "IPv4 multicast",
    "239.255.255.250": "IPv4 multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "broadcast",
    "192.0.2.1": "documentation",
    "::1": "IPv6 loopback",
    "::": "IPv6 unspecified",
    "fe80::1": "IPv6 link-local",
    "fe80::1%eth0": "IPv6 link-local with a zone",
    "fc00::1": "unique local",
    "fd12:3456::1": "unique local",
    "fec0::1": "site-local (deprecated)",
    "ff02::1": "IPv6 multicast",
    "ff0e::1": "IPv6 global multicast",
    "::ffff:127.0.0.1": "IPv4-mapped loopback",
    "::ffff:8.8.8.8": "IPv4-mapped, even of a public address",
    "::7f00:1": "IPv4-compatible loopback",
    "::8.8.8.8": "IPv4-compatible",
    "::ffff:0:a9fe:a9fe": "SIIT IPv4-translated",
    "64:ff9b::a9fe:a9fe": "NAT64 of 169.254.169.254",
    "64:ff9b::808:808": "NAT64, even of a public address",
    "64:ff9b:1::a9fe:a9fe": "local-use NAT64",
    "2002:7f00:1::1": "6to4 of loopback",
    "2002:808:808::1": "6to4, even of a public address",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "Teredo",
    "2001:db8::1": "documentation",
    "100::1": "discard-only",
}
ALLOWED = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2001:4860:4860::8888", "2606:4700:4700::1111"]


@pytest.mark.parametrize("address", list(REFUSED), ids=[f"{a} ({why})" for a, why in REFUSED.items()])
def test_non_public_forms_are_refused(address: str) -> None:
    assert not allowed_address(address, allow_private=False)
    assert allowed_address(address, allow_private=True)
    with pytest.raises(Blocked, match="non-public"):
        check_host(f"[{address}]" if ":" in address else address, allow_private=False)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert allowed_address(address, allow_private=False)
    check_host(f"[{address}]" if ":" in address else address, allow_private=False)


@pytest.mark.parametrize(
    ("host", "address"),
    [("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("127.1", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1")],
)
def test_legacy_ipv4_spellings_are_read_as_the_resolver_reads_them(host: str, address: str) -> None:
    assert str(literal_address(host)) == address
    with pytest.raises(Blocked):
        check_url(f"https://{host}/hook", allow_private=False)


def test_names_are_left_to_resolution_except_the_local_machine() -> None:
    assert literal_address("files.example.com") is None
    check_host("files.example.com", allow_private=False)
    for name in ("localhost", "LOCALHOST.", "api.localhost"):
        with pytest.raises(Blocked, match="local machine"):
            check_host(name, allow_private=False)
    with pytest.raises(Blocked, match="https"):
        check_url("http://files.example.com/hook", allow_private=False)


def test_urls_with_credentials_are_refused_even_where_private_addresses_are_allowed() -> None:
    for url in ("https://u:p@hooks.example.com/", "https://u@hooks.example.com/", "http://u:p@127.0.0.1:8080/"):
        with pytest.raises(Blocked, match="user name or password"):
            check_url(url, allow_private=True)
