"""Tool secrets, sealed at rest per tenant.

The compliance app's envelope encryption (`compliance.crypto.encrypt_for_tenant`) is used when it
is installed. Until then a local Fernet keyed from SECRET_KEY (HKDF, per tenant) seals them. Each
sealed value is prefixed with the scheme that sealed it, so values sealed by the fallback stay
readable after compliance.crypto arrives (and are re-sealed with it on the next write).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from aybiza.core.errors import ApplicationError
from aybiza.core.models import Tenant

CONTEXT = "tools.tool-secrets"
_COMPLIANCE = "c1:"
_FALLBACK = "f1:"


def seal_secrets(tenant: Tenant, values: dict[str, str], *, context: str = CONTEXT) -> str:
    """The sealed form of `values` (a flat name → secret mapping); "" when there are none.

    `context` binds the ciphertext to its use: it must be given again to unseal.
    """
    if not values:
        return ""
    return _seal(tenant, json.dumps(values, separators=(",", ":")).encode(), context)


def unseal_secrets(tenant: Tenant, sealed: str, *, context: str = CONTEXT) -> dict[str, str]:
    if not sealed:
        return {}
    return json.loads(_unseal(tenant, sealed, context))


def merge_secrets(current: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    """`current` with `changes` applied: a value sets a name, None or "" removes it."""
    merged = dict(current)
    for name, value in changes.items():
        if value in (None, ""):
            merged.pop(name, None)
        elif not isinstance(value, str):
            message = f"The secret {name!r} must be a string."
            raise ApplicationError(message, extra={"fields": {"secrets": [message]}})
        else:
            merged[name] = value
    return merged


def _seal(tenant: Tenant, plaintext: bytes, context: str) -> str:
    crypto = _compliance_crypto()
    if crypto is not None:
        token = crypto.encrypt_for_tenant(tenant, plaintext, context=context)
        if isinstance(token, bytes):
            token = base64.b64encode(token).decode("ascii")
            return _COMPLIANCE + "b:" + token
        return _COMPLIANCE + "s:" + token
    return _FALLBACK + _fernet(tenant).encrypt(plaintext).decode("ascii")


def _unseal(tenant: Tenant, sealed: str, context: str) -> bytes:
    try:
        if sealed.startswith(_FALLBACK):
            return _fernet(tenant).decrypt(sealed[len(_FALLBACK):].encode("ascii"))
        if sealed.startswith(_COMPLIANCE):
            crypto = _compliance_crypto()
            if crypto is None:
                raise ApplicationError("These secrets were sealed by compliance.crypto, "
                                       "which is not installed.", status_code=500)
            encoding, token = sealed[len(_COMPLIANCE):].split(":", 1)
            ciphertext: str | bytes = base64.b64decode(token) if encoding == "b" else token
            return crypto.decrypt_for_tenant(tenant, ciphertext, context=context)
    except InvalidToken as exc:
        raise ApplicationError("These secrets cannot be decrypted (was SECRET_KEY changed?).",
                               status_code=500, code="secrets_unreadable") from exc
    raise ApplicationError("Unknown secret format.", status_code=500, code="secrets_unreadable")


def _compliance_crypto() -> Any | None:
    try:
        from compliance import crypto
    except ImportError:  # the compliance issue provides it; see the module docstring
        return None
    if not hasattr(crypto, "encrypt_for_tenant") or not hasattr(crypto, "decrypt_for_tenant"):
        return None
    return crypto


def _fernet(tenant: Tenant) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"aybiza.tools.secrets",
               info=f"tenant:{tenant.pk}".encode()).derive(settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(key))
