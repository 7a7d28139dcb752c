"""Login lockout: too many failed logins lock a username from one IP, and more lock the account.

Two counters per failure: (username, client address) locks after LOGIN_LOCKOUT_ATTEMPTS, the
username alone after LOGIN_LOCKOUT_ACCOUNT_ATTEMPTS from any addresses, so an attacker who
changes address (or forges one) still runs out of guesses. Counted in the cache (Redis in
production, so every process sees the same count). Enable with
`AUTHENTICATION_BACKENDS = ["compliance.auth.LockoutModelBackend"]`.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from compliance.conf import setting
from compliance.hashing import keyed_hash

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[_Network, ...]:
    try:
        return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from exc


def trusted_networks() -> tuple[_Network, ...]:
    """TRUSTED_PROXIES parsed; ImproperlyConfigured for an entry that is no address or CIDR."""
    return _networks(tuple(setting("TRUSTED_PROXIES")))


def _trusted(address: str, networks: tuple[_Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request: HttpRequest | None) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy.

    Behind trusted proxies, X-Forwarded-For is read from the right (each proxy appends the
    address it saw) and the first address that is not a trusted proxy is the client; what a
    client wrote on the left is never believed. The server must not rewrite REMOTE_ADDR from
    the header itself (so no `--proxy-headers`).
    """
    if request is None:
        return ""
    peer = request.META.get("REMOTE_ADDR", "") or ""
    networks = trusted_networks()
    if not networks or not _trusted(peer, networks):
        return peer
    client = peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([part.strip() for part in forwarded.split(",")][-32:]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # garbage: keep the last address a trusted proxy vouched for
        client = hop
        if not _trusted(hop, networks):
            break
    return client


def _key(username: str, ip: str | None) -> str:
    # Hashed: usernames can hold anything (even a password typed in the wrong field).
    scope = "account" if ip is None else f"ip|{ip}"
    return "compliance:lockout:" + keyed_hash("lockout", f"{username.casefold()}|{scope}")[:40]


def login_locked(*, username: str, ip: str) -> bool:
    counts = cache.get_many([_key(username, ip), _key(username, None)])
    return (counts.get(_key(username, ip), 0) >= setting("LOGIN_LOCKOUT_ATTEMPTS")
            or counts.get(_key(username, None), 0) >= setting("LOGIN_LOCKOUT_ACCOUNT_ATTEMPTS"))


def _count(key: str) -> int:
    cache.add(key, 0, timeout=setting("LOGIN_LOCKOUT_WINDOW_S"))
    try:
        return cache.incr(key)
    except ValueError:  # the window ended between add and incr
        cache.add(key, 1, timeout=setting("LOGIN_LOCKOUT_WINDOW_S"))
        return 1


def login_failure_register(*, username: str, ip: str) -> bool:
    """Count one failure for the pair and for the account (each window starts with its first
    failure); True when this failure is the one that locks either."""
    pair = _count(_key(username, ip))
    account = _count(_key(username, None))
    return (pair == setting("LOGIN_LOCKOUT_ATTEMPTS")
            or account == setting("LOGIN_LOCKOUT_ACCOUNT_ATTEMPTS"))


def login_failures_reset(*, username: str, ip: str) -> None:
    # The account counter stays: a success from one address must not refill another's guesses.
    cache.delete(_key(username, ip))
