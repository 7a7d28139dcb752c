"""Server-side request forgery guard for tool requests.

A tool URL is attacker-influenced (tenants write templates, the LLM fills them from what callers
say), so before every hop — the first request and each redirect — we resolve the host once, refuse
anything that is not a public unicast address, and hand the checked address to the transport,
which connects to exactly that address (see executor/transport.py) so a second DNS answer cannot
swap it (DNS rebinding). A tenant's allowlist, set by platform staff, can open named hosts or
networks; cloud metadata addresses open only for an allowlisted network that names them.

A refused host name reads "blocked" whatever the reason (no answer, a private answer...): the
tenant learns nothing about internal DNS. The category is kept for operators (`reason`, logs).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata services: AWS/GCP/Azure/OpenStack, AWS IPv6, AWS ECS tasks, Alibaba.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200",
))
ALLOWED_SCHEMES = ("http", "https")
_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
_HOST_PATTERN = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")

logger = logging.getLogger(__name__)


class RequestRefused(Exception):
    """The URL may not be requested. The message is safe to show to the tenant and the brain;
    `reason` may say more (for operators only)."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


@dataclass(frozen=True)
class Allowlist:
    hosts: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()
    # Exact (host, port) pairs: "127.0.0.1:8000" opens one service, not the whole host.
    endpoints: tuple[tuple[str, int], ...] = ()

    def allows_endpoint(self, host: str, port: int) -> bool:
        return (host.lower().rstrip(".").strip("[]"), port) in self.endpoints

    def allows_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for entry in self.hosts:
            if entry.startswith("*.") and host.endswith(entry[1:]):
                return True
            if host == entry:
                return True
        return False

    def network_for(self, ip: IPAddress) -> IPNetwork | None:
        return next((net for net in self.networks if ip in net), None)


EMPTY_ALLOWLIST = Allowlist()


def parse_allowlist(entries: Iterable[str]) -> Allowlist:
    """Build an Allowlist from hosts, networks and host:port endpoints; ValueError names the
    first entry that is none of them."""
    hosts: list[str] = []
    networks: list[IPNetwork] = []
    endpoints: list[tuple[str, int]] = []
    for raw in entries or ():
        entry = str(raw).strip().lower()
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        endpoint = _endpoint(entry)
        if endpoint is not None:
            endpoints.append(endpoint)
            continue
        if not _HOST_PATTERN.match(entry):
            raise ValueError(f"{raw!r} is neither a host name, a host:port nor an IP network.")
        hosts.append(entry)
    return Allowlist(hosts=tuple(hosts), networks=tuple(networks), endpoints=tuple(endpoints))


def _endpoint(entry: str) -> tuple[str, int] | None:
    """("host", port) for "host:port", "1.2.3.4:port" or "[::1]:port"; None for anything else."""
    match = re.fullmatch(r"(\[[0-9a-f:.]+\]|[^:\[\]]+):([0-9]{1,5})", entry)
    if match is None or not 0 < int(match[2]) < 65536:
        return None
    host = match[1].strip("[]")
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        if not _HOST_PATTERN.match(host) or host.startswith("*."):
            return None
    return host, int(match[2])


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to `ip`, speak to `host` (Host header, TLS SNI and certificate)."""

    url: httpx.URL
    host: str
    port: int
    ip: str


def check_url(url: str | httpx.URL, allowlist: Allowlist = EMPTY_ALLOWLIST) -> Target:
    """Resolve and check `url`; raise RequestRefused with a reason, or return where to connect."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise RequestRefused(f"Not a valid URL: {exc}") from exc
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise RequestRefused(f"Only http and https URLs are allowed, not {parsed.scheme!r}.")
    if not parsed.host:
        raise RequestRefused("The URL has no host.")
    if parsed.userinfo:
        raise RequestRefused("Credentials in the URL are not allowed; use the tool's auth.")
    # The ASCII (punycode) form: what DNS is asked and what the transport connects for.
    host = parsed.raw_host.decode("ascii").lower().rstrip(".")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    literal = _ip_literal(host)
    addresses = _addresses(host, port, literal)
    if not addresses:
        raise _blocked(host, "no address")
    host_allowed = allowlist.allows_host(host) or allowlist.allows_endpoint(host, port)
    for ip in addresses:
        reason = _refusal(ip, host_allowed=host_allowed, allowlist=allowlist)
        if reason:
            # All addresses must pass: a name with one public and one private answer is refused.
            if literal is not None:  # the tenant wrote the address: its kind is no secret
                raise RequestRefused(f"Refused to connect to {host}: {reason}.", reason=reason)
            raise _blocked(host, f"resolves to {reason}")
    return Target(url=parsed, host=host, port=port, ip=str(addresses[0]))


def _blocked(host: str, reason: str) -> RequestRefused:
    """The one answer for a refused name: whether it resolved, and to what, stays internal."""
    logger.info("Tool request to %s refused: %s", host, reason)
    return RequestRefused(f"Refused to connect to {host}: blocked.", reason=reason)


def _refusal(ip: IPAddress, *, host_allowed: bool, allowlist: Allowlist) -> str | None:
    """Why `ip` is refused (a category, never the address: no internal-DNS oracle), or None."""
    if allowlist.network_for(ip) is not None:
        return None
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if host_allowed:
        return None
    for category, hit in (
        ("a loopback address", ip.is_loopback),
        ("a link-local address", ip.is_link_local),
        ("a multicast address", ip.is_multicast),
        ("an unspecified address", ip.is_unspecified),
        ("a reserved address", ip.is_reserved),
        ("a private address", ip.is_private),
        ("a non-public address", not ip.is_global),
    ):
        if hit:
            return category
    return None


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _addresses(host: str, port: int, literal: IPAddress | None) -> list[IPAddress]:
    raw = [str(literal)] if literal is not None else resolve(host, port)
    addresses: list[IPAddress] = []
    for text in raw:
        ip = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
        # ::ffff:10.0.0.1 reaches 10.0.0.1: judge the IPv4 address it carries.
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip not in addresses:
            addresses.append(ip)
    return addresses


def resolve(host: str, port: int) -> list[str]:
    """The addresses of `host` (module-level so tests can stand in a resolver)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise _blocked(host, f"does not resolve ({exc})") from exc
    return [info[4][0] for info in infos]
