"""Keyed hashes for identifiers the audit log may only mention pseudonymously."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

from compliance.conf import setting


def _key(purpose: str) -> bytes:
    secret = setting("COMPLIANCE_HASH_KEY") or settings.SECRET_KEY
    return hashlib.sha256(f"aybiza-compliance:{purpose}:{secret}".encode()).digest()


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 of `value`: stable for one deployment, meaningless without its secret."""
    return hmac.new(_key(purpose), value.encode(), hashlib.sha256).hexdigest()
