"""Keeping URLs that customers give us from turning the server against its own network.

A URL an organization supplies (a batch's ``file_url``, an MCP server, a custom tool's
endpoint) may name a host that resolves to a private, loopback, link-local, shared, reserved
or multicast address: the metadata service, the database, the admin on localhost. Such an
address is refused unless the deployment allows it (every address, or listed networks).

The check has to hold for the address actually connected to, not for a first resolution of
the name (a name that changes its answer between the check and the connection, DNS
rebinding, would pass). Callers therefore connect to the addresses this module checked:
``calls.batch_sources.fetch`` pins its own ``http.client`` connection to them, and
:func:`guarded_http_client` gives an httpx2 client (what the MCP SDK speaks through) a network
backend that resolves, checks and connects in one step, for every connection it opens,
redirects included.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import httpcore2
import httpx2

__all__ = [
    "AddressPolicy",
    "AddressRefused",
    "HostUnresolvable",
    "address_allowed",
    "guarded_http_client",
    "networks_parse",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressRefused(OSError):
    """The host resolves to an address the policy does not allow (an OSError, so an HTTP
    client reports it as a failed connection)."""

    def __init__(self, host: str, addresses: Sequence[str]) -> None:
        self.host = host
        self.addresses = list(addresses)
        super().__init__(
            f"{host} is a private, loopback or link-local address ({', '.join(addresses)}); "
            "this server does not connect to its own network."
        )


class HostUnresolvable(OSError):
    def __init__(self, host: str, reason: str) -> None:
        self.host = host
        super().__init__(f"{host} cannot be resolved ({reason}).")


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    # Allow every address (a deployment that reaches its own network on purpose).
    allow_private: bool = False
    # Networks allowed although not public (e.g. one internal server).
    allowed_networks: Sequence[IPNetwork] = ()


def networks_parse(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDR strings (a settings list) as networks; ValueError names a bad one."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values if value)


def address_allowed(
    address: str, *, allow_private: bool = False, allowed_networks: Sequence[IPNetwork] = ()
) -> bool:
    """Whether the server may connect to ``address``: a public unicast address, or one the
    policy allows. IPv4 addresses written as IPv6 (``::ffff:127.0.0.1``) count as IPv4."""
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_private:
        return True
    if any(ip.version == network.version and ip in network for network in allowed_networks):
        return True
    return ip.is_global and not ip.is_multicast


async def _checked_addresses(host: str, port: int, policy: AddressPolicy) -> list[str]:
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise HostUnresolvable(host, str(exc)) from None
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    refused = [
        address
        for address in addresses
        if not address_allowed(
            address,
            allow_private=policy.allow_private,
            allowed_networks=policy.allowed_networks,
        )
    ]
    if refused or not addresses:
        raise AddressRefused(host, refused)
    return addresses


class _GuardedBackend(httpcore2.AsyncNetworkBackend):
    """Resolves the host itself, refuses it if any address is not allowed, and connects to
    the checked addresses (TLS is still verified against the host name: httpcore2 passes it
    as the server name when it starts TLS on the stream)."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        last: Exception | None = None
        for address in await _checked_addresses(host, port, self._policy):
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore2.ConnectError as exc:
                last = exc
        raise last or OSError(f"no address to connect to for {host}")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        raise OSError("Unix sockets are not reachable through a guarded client.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_http_client(
    *,
    policy: AddressPolicy | None,
    headers: dict[str, str] | None = None,
    timeout: httpx2.Timeout | float = 30.0,
) -> httpx2.AsyncClient:
    """An httpx2 client whose every connection is checked against ``policy`` (None: a
    trusted destination, the platform's own servers, connected to as is). No redirects are
    followed by the client itself, and no proxy from the environment is used (a proxy would
    connect on our behalf, unchecked)."""
    transport = httpx2.AsyncHTTPTransport()
    if policy is not None:
        # httpx2 builds its connection pool without a way to pass a network backend: the pool
        # is replaced by an equal one that has ours (same TLS context, same defaults).
        pool = transport._pool
        transport._pool = httpcore2.AsyncConnectionPool(
            ssl_context=pool._ssl_context,
            network_backend=_GuardedBackend(policy),
        )
    return httpx2.AsyncClient(
        transport=transport,
        headers=headers,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
