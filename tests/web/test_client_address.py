"""The client address behind reverse proxies: X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import pytest

from web.client_address import TrustedProxies, parse_networks

PROXIES = TrustedProxies(["10.0.0.0/8", "127.0.0.1", "2001:db8:ffff::/48"])


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    nobody = TrustedProxies()
    assert nobody.key("198.51.100.7", ["203.0.113.9"]) == "198.51.100.7"


def test_a_client_that_is_not_a_trusted_proxy_cannot_choose_its_address() -> None:
    for forged in (["203.0.113.9"], ["10.0.0.1"], ["203.0.113.9, 198.51.100.8"], ["nonsense"]):
        assert PROXIES.key("198.51.100.7", forged) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_right_most_untrusted_address_is_the_client() -> None:
    assert PROXIES.key("127.0.0.1", ["203.0.113.9"]) == "203.0.113.9"
    # nginx on the host, behind a balancer in 10/8: both skipped.
    assert PROXIES.key("127.0.0.1", ["203.0.113.9, 10.1.2.3"]) == "203.0.113.9"
    # Several header lines are one list, in order.
    assert PROXIES.key("127.0.0.1", ["203.0.113.9", "10.1.2.3"]) == "203.0.113.9"


def test_what_the_client_wrote_left_of_its_address_changes_nothing() -> None:
    for prefix in ("1.2.3.4", "10.9.9.9", "garbage", "", "1.2.3.4, ::1, nonsense"):
        header = f"{prefix}, 203.0.113.9, 10.1.2.3"
        assert PROXIES.key("127.0.0.1", [header]) == "203.0.113.9", header


@pytest.mark.parametrize(
    "header", [[], [""], ["  "], ["not-an-address"], ["203.0.113.9:4711"], ["203.0.113.9,"]]
)
def test_a_missing_or_malformed_header_from_a_proxy_counts_the_proxy(header: list[str]) -> None:
    assert PROXIES.key("10.1.2.3", header) == "10.1.2.3"


def test_a_chain_of_trusted_proxies_only_gives_the_left_most() -> None:
    assert PROXIES.key("127.0.0.1", ["10.0.0.5, 10.0.0.6"]) == "10.0.0.5"


def test_ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert PROXIES.key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert PROXIES.key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert PROXIES.key("::ffff:203.0.113.9") == "203.0.113.9"
    assert PROXIES.key("::ffff:127.0.0.1", ["203.0.113.9"]) == "203.0.113.9"
    assert PROXIES.key("2001:db8:ffff::1", ["2001:db8:5::7"]) == "2001:db8:5::/64"


def test_a_peer_without_an_ip_address_is_unknown() -> None:
    assert PROXIES.key(None, ["203.0.113.9"]) == "?"
    assert PROXIES.key("", []) == "?"


def test_networks_accept_addresses_and_cidrs_and_name_a_bad_value() -> None:
    assert [str(n) for n in parse_networks(["127.0.0.1", "10.0.0.5/8", "::1"])] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    with pytest.raises(ValueError, match=r"'proxy\.example'"):
        parse_networks(["127.0.0.1", "proxy.example"])
