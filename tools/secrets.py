"""Tool and provider secrets, sealed at rest per tenant by the compliance envelope encryption.

`compliance.crypto` encrypts under the tenant's data key (wrapped by the master key) and binds
`context` into the ciphertext; the stored form is `c1:b:` + base64 of its blob. That is the one
scheme: values an early build sealed with a local SECRET_KEY-derived Fernet (`f1:`) are re-sealed
by the data migration `tools/migrations/0003_reseal_legacy_secrets.py`.
"""

from __future__ import annotations

import base64
import binascii
import json

from aybiza.core.errors import ApplicationError
from aybiza.core.models import Tenant
from compliance import crypto

CONTEXT = "tools.tool-secrets"
SEALED_PREFIX = "c1:b:"


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
    blob = crypto.encrypt_for_tenant(tenant, plaintext, context=context)
    return SEALED_PREFIX + base64.b64encode(blob).decode("ascii")


def _unseal(tenant: Tenant, sealed: str, context: str) -> bytes:
    if not sealed.startswith(SEALED_PREFIX):
        raise ApplicationError("Unknown secret format (values of the old f1: scheme are re-sealed "
                               "by `manage.py migrate`).", status_code=500,
                               code="secrets_unreadable")
    try:
        blob = base64.b64decode(sealed[len(SEALED_PREFIX):], validate=True)
    except binascii.Error as exc:
        raise ApplicationError("Unknown secret format.", status_code=500,
                               code="secrets_unreadable") from exc
    return crypto.decrypt_for_tenant(tenant, blob, context=context)
