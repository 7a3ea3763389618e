"""The address a request really comes from, when the hub sits behind reverse proxies.

``X-Forwarded-For`` is only believed when the peer (the TCP connection's other end) is one of
``server.trusted_proxies``; otherwise anyone could pick the address their failed logins are
counted against. Behind trusted proxies the header is read from the right: each trusted proxy
appended the address it received the request from, so the right-most address that is *not* a
trusted proxy is the client. Everything left of it was written by the client and is never
parsed (a forged or garbled prefix cannot change the answer).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

UNKNOWN = "?"
# One IPv6 host usually holds a whole /64: count it as one address, or it could rotate through
# 2**64 of them.
IPV6_CLIENT_PREFIX = 64


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Addresses or CIDR networks; host bits are allowed (``10.0.0.5/8`` is ``10.0.0.0/8``).
    Raises ValueError naming the first value that is neither."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"not an IP address or network: {value!r}") from exc
    return tuple(networks)


def _address(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return address


class TrustedProxies:
    """The configured proxies, and the client address of a request behind them."""

    def __init__(self, networks: Iterable[str] = ()) -> None:
        self.networks = parse_networks(networks)

    def trusts(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)

    def client(self, peer: str | None, forwarded_for: Sequence[str] = ()) -> IPAddress | None:
        """The client's address: the peer, or, when the peer is a trusted proxy, the right-most
        untrusted address of ``X-Forwarded-For`` (every value of the header, in order).

        A header that cannot be read up to that address is ignored (the peer is the answer),
        as is an empty one; if every address in it is a trusted proxy, the left-most is the
        client. None when the peer is not an IP address (a Unix socket)."""
        address = _address(peer or "")
        if address is None or not self.networks or not self.trusts(address):
            return address
        hops = [hop for value in forwarded_for for hop in value.split(",")]
        client = address
        for hop in reversed(hops):
            hop_address = _address(hop)
            if hop_address is None:
                return address  # malformed where the trusted proxies wrote: believe none of it
            client = hop_address
            if not self.trusts(hop_address):
                break
        return client

    def key(self, peer: str | None, forwarded_for: Sequence[str] = ()) -> str:
        """The client as a rate-limiting key: the address, or its /64 for IPv6."""
        address = self.client(peer, forwarded_for)
        if address is None:
            return UNKNOWN
        if isinstance(address, ipaddress.IPv6Address):
            return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
        return str(address)
