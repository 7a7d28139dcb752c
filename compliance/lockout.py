"""Login lockout: too many failed logins for one username from one IP lock that pair for a while.

Counted in the cache (Redis in production, so every process sees the same count). Enable with
`AUTHENTICATION_BACKENDS = ["compliance.auth.LockoutModelBackend"]`.
"""

from __future__ import annotations

from django.core.cache import cache
from django.http import HttpRequest

from compliance.conf import setting
from compliance.hashing import keyed_hash


def client_ip(request: HttpRequest | None) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a proxy rewrites it.
    if request is None:
        return ""
    return request.META.get("REMOTE_ADDR", "") or ""


def _key(username: str, ip: str) -> str:
    # Hashed: usernames can hold anything (even a password typed in the wrong field).
    return "compliance:lockout:" + keyed_hash("lockout", f"{username.casefold()}|{ip}")[:40]


def login_locked(*, username: str, ip: str) -> bool:
    return (cache.get(_key(username, ip)) or 0) >= setting("LOGIN_LOCKOUT_ATTEMPTS")


def login_failure_register(*, username: str, ip: str) -> int:
    """Count one failure; returns the failures in the current window (started by the first)."""
    key = _key(username, ip)
    cache.add(key, 0, timeout=setting("LOGIN_LOCKOUT_WINDOW_S"))
    try:
        return cache.incr(key)
    except ValueError:  # the window ended between add and incr
        cache.add(key, 1, timeout=setting("LOGIN_LOCKOUT_WINDOW_S"))
        return 1


def login_failures_reset(*, username: str, ip: str) -> None:
    cache.delete(_key(username, ip))
