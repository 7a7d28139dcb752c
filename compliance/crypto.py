"""Envelope encryption: AES-256-GCM under a per-tenant data key, wrapped by a master key or KMS.

Ciphertext layout (all of it authenticated; the header and the context are the AAD)::

    b"AYB" | format 0x01 | key version (4 bytes, big endian) | nonce (12) | ciphertext + tag (16)

Old key versions keep decrypting after `data_keys_rotate(new_data_key=True)`; new data is
encrypted under the active version. Unwrapped keys are cached per process (bounded, short TTL).
"""

from __future__ import annotations

import base64
import os
import struct
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from aybiza.core.errors import ApplicationError
from aybiza.core.models import Tenant
from compliance import keywrap
from compliance.conf import setting
from compliance.models import TenantDataKey

MAGIC = b"AYB"
FORMAT_VERSION = 1
_HEADER = struct.Struct(">3sBI")
_NONCE_BYTES = 12
_TAG_BYTES = 16


class DecryptionFailed(ApplicationError):
    status_code = 400
    code = "decrypt_failed"


class _KeyCache:
    """LRU of unwrapped data keys with a TTL, shared by the threads of one process."""

    def __init__(self) -> None:
        self._entries: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            expires = time.monotonic() + setting("DATA_KEY_CACHE_TTL_S")
            self._entries[key] = (expires, value)
            self._entries.move_to_end(key)
            while len(self._entries) > setting("DATA_KEY_CACHE_SIZE"):
                self._entries.popitem(last=False)

    def forget_tenant(self, tenant_id: int) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == tenant_id]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


key_cache = _KeyCache()
_ACTIVE = "active"


def _wrapped(row: TenantDataKey) -> keywrap.WrappedKey:
    return keywrap.WrappedKey(bytes(row.wrapped_key), row.wrapped_by, row.wrapping_key_id)


def _unwrap_row(row: TenantDataKey) -> bytes:
    return keywrap.unwrap(_wrapped(row), tenant_id=row.tenant_id, version=row.version)


def _create_version(tenant: Tenant, version: int, actor: Any = None) -> tuple[int, bytes]:
    data_key, wrapped = keywrap.data_key_generate(tenant_id=tenant.pk, version=version)
    row = TenantDataKey.objects.create(
        tenant=tenant, version=version, wrapped_key=wrapped.wrapped_key,
        wrapped_by=wrapped.wrapped_by, wrapping_key_id=wrapped.wrapping_key_id, active=True,
    )
    from compliance.services.audit import audit_record

    audit_record(tenant=tenant, action="crypto.data_key_created", target=row, actor=actor,
                 payload={"version": version, "wrapped_by": wrapped.wrapped_by})
    return version, data_key


def data_key_ensure(*, tenant: Tenant) -> int:
    """Create the tenant's first data key if it has none; returns the active version.

    Call it in its own transaction (e.g. when the tenant is created): a key created inside a
    caller's transaction that later rolls back is gone, with whatever was encrypted under it.
    """
    return _active_key(tenant)[0]


def _active_key(tenant: Tenant) -> tuple[int, bytes]:
    version = key_cache.get((tenant.pk, _ACTIVE))
    if version is not None:
        data_key = key_cache.get((tenant.pk, version))
        if data_key is not None:
            return version, data_key
    row = TenantDataKey.objects.filter(tenant=tenant, active=True).first()
    if row is not None:
        version, data_key = row.version, _unwrap_row(row)
    else:
        try:
            with transaction.atomic():
                version, data_key = _create_version(tenant, 1)
        except IntegrityError:  # a concurrent first use created it
            row = TenantDataKey.objects.get(tenant=tenant, active=True)
            version, data_key = row.version, _unwrap_row(row)
    # Cache only committed keys: data encrypted under a rolled-back key could never be read.
    transaction.on_commit(lambda: _remember(tenant.pk, version, data_key))
    return version, data_key


def _remember(tenant_id: int, version: int, data_key: bytes) -> None:
    key_cache.put((tenant_id, version), data_key)
    key_cache.put((tenant_id, _ACTIVE), version)


def _key_version(tenant: Tenant, version: int) -> bytes:
    data_key = key_cache.get((tenant.pk, version))
    if data_key is None:
        row = TenantDataKey.objects.filter(tenant=tenant, version=version).first()
        if row is None:
            raise DecryptionFailed("This data was encrypted under an unknown key.")
        data_key = _unwrap_row(row)
        transaction.on_commit(lambda: key_cache.put((tenant.pk, version), data_key))
    return data_key


def _aad(header: bytes, tenant: Tenant, context: str) -> bytes:
    return header + f"|{tenant.pk}|{context}".encode()


def encrypt_for_tenant(tenant: Tenant, plaintext: bytes, *, context: str) -> bytes:
    """Encrypt under the tenant's active data key. `context` (e.g. "recording:<sid>") must be
    given again to decrypt: a blob moved to another record or tenant does not decrypt."""
    version, data_key = _active_key(tenant)
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, version)
    nonce = os.urandom(_NONCE_BYTES)
    return header + nonce + AESGCM(data_key).encrypt(nonce, plaintext,
                                                      _aad(header, tenant, context))


def decrypt_for_tenant(tenant: Tenant, blob: bytes, *, context: str) -> bytes:
    """Decrypt a blob of `encrypt_for_tenant`, whichever key version produced it."""
    if len(blob) < _HEADER.size + _NONCE_BYTES + _TAG_BYTES:
        raise DecryptionFailed("Not an AYBIZA ciphertext.")
    header = blob[:_HEADER.size]
    magic, fmt, version = _HEADER.unpack(header)
    if magic != MAGIC or fmt != FORMAT_VERSION:
        raise DecryptionFailed("Not an AYBIZA ciphertext.")
    nonce = blob[_HEADER.size:_HEADER.size + _NONCE_BYTES]
    try:
        return AESGCM(_key_version(tenant, version)).decrypt(
            nonce, blob[_HEADER.size + _NONCE_BYTES:], _aad(header, tenant, context))
    except InvalidTag as exc:
        raise DecryptionFailed("The data does not decrypt for this tenant and context.") from exc


def encrypt_text_for_tenant(tenant: Tenant, text: str, *, context: str) -> str:
    """`encrypt_for_tenant` for text columns: URL-safe base64 of the blob."""
    blob = encrypt_for_tenant(tenant, text.encode(), context=context)
    return base64.urlsafe_b64encode(blob).decode("ascii")


def decrypt_text_for_tenant(tenant: Tenant, token: str, *, context: str) -> str:
    try:
        blob = base64.urlsafe_b64decode(token.encode("ascii"))
    except ValueError as exc:
        raise DecryptionFailed("Not an AYBIZA ciphertext.") from exc
    return decrypt_for_tenant(tenant, blob, context=context).decode()


@dataclass(frozen=True)
class RotationResult:
    rewrapped: int
    new_version: int | None


def data_keys_rotate(
    *, tenant: Tenant, new_data_key: bool = False, actor: Any = None
) -> RotationResult:
    """Re-wrap every data key of the tenant under the current master key or KMS key.

    With `new_data_key`, also start a new active version: new data uses it, older versions
    still decrypt what they encrypted. Old data is not re-encrypted.
    """
    with transaction.atomic():
        rows = list(TenantDataKey.objects.select_for_update().filter(tenant=tenant)
                    .order_by("version"))
        now = timezone.now()
        for row in rows:
            wrapped = keywrap.wrap(_unwrap_row(row), tenant_id=tenant.pk, version=row.version)
            row.wrapped_key, row.wrapped_by = wrapped.wrapped_key, wrapped.wrapped_by
            row.wrapping_key_id, row.rewrapped_at = wrapped.wrapping_key_id, now
            row.save(update_fields=["wrapped_key", "wrapped_by", "wrapping_key_id",
                                    "rewrapped_at", "updated_at"])
        new_version = None
        if new_data_key:
            TenantDataKey.objects.filter(tenant=tenant, active=True).update(active=False)
            latest = TenantDataKey.objects.filter(tenant=tenant).aggregate(v=Max("version"))["v"]
            new_version, _ = _create_version(tenant, (latest or 0) + 1, actor=actor)
        if rows:
            from compliance.services.audit import audit_record

            audit_record(tenant=tenant, action="crypto.data_keys_rewrapped", actor=actor,
                         payload={"count": len(rows),
                                  "wrapped_by": keywrap.current_wrapper()})
        transaction.on_commit(lambda: key_cache.forget_tenant(tenant.pk))
    return RotationResult(rewrapped=len(rows), new_version=new_version)
