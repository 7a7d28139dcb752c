"""Wrapping tenant data keys: by the local master key (AES-256-GCM) or by AWS KMS.

KMS calls block (boto3): async callers go through `sync_to_async`. They only happen on a
data-key cache miss, creation or rotation.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aybiza.core.errors import ApplicationError
from compliance.conf import setting
from compliance.models import KeyWrapper

DATA_KEY_BYTES = 32
_NONCE_BYTES = 12


class KeyUnavailable(ApplicationError):
    status_code = 500
    code = "key_unavailable"


@dataclass(frozen=True)
class WrappedKey:
    wrapped_key: bytes
    wrapped_by: str
    wrapping_key_id: str


def _decode_master(value: str) -> bytes:
    raw = base64.b64decode(value)
    if len(raw) != DATA_KEY_BYTES:
        raise KeyUnavailable("A master key must be 32 bytes (base64).")
    return raw


def master_key_id(raw: bytes) -> str:
    """A public fingerprint telling which master key wrapped a data key."""
    return "local:" + hashlib.sha256(b"aybiza-master-key-id" + raw).hexdigest()[:16]


def _master_keys() -> dict[str, bytes]:
    """Current master key first, then the previous ones (still accepted for unwrapping)."""
    keys: dict[str, bytes] = {}
    for value in [setting("AYBIZA_MASTER_KEY"), *setting("AYBIZA_PREVIOUS_MASTER_KEYS")]:
        raw = _decode_master(value)
        keys.setdefault(master_key_id(raw), raw)
    return keys


def _aad(tenant_id: int, version: int) -> bytes:
    # Binds a wrapped key to its tenant and version: a copied row fails to unwrap.
    return f"aybiza-data-key:{tenant_id}:{version}".encode()


def _kms_context(tenant_id: int, version: int) -> dict[str, str]:
    return {"aybiza_tenant": str(tenant_id), "aybiza_key_version": str(version)}


@lru_cache(maxsize=4)
def kms_client(region: str, endpoint_url: str):
    import boto3  # only KMS deployments pay for the import

    return boto3.client("kms", region_name=region, endpoint_url=endpoint_url or None)


def _kms():
    return kms_client(setting("KMS_REGION"), setting("KMS_ENDPOINT_URL"))


def data_key_generate(*, tenant_id: int, version: int) -> tuple[bytes, WrappedKey]:
    """A fresh data key and its wrapped form, from KMS when KMS_KEY_ID is set."""
    kms_key_id = setting("KMS_KEY_ID")
    if kms_key_id:
        response = _kms().generate_data_key(
            KeyId=kms_key_id, KeySpec="AES_256",
            EncryptionContext=_kms_context(tenant_id, version),
        )
        return response["Plaintext"], WrappedKey(
            response["CiphertextBlob"], KeyWrapper.KMS, response["KeyId"])
    data_key = AESGCM.generate_key(bit_length=256)
    return data_key, wrap(data_key, tenant_id=tenant_id, version=version)


def wrap(data_key: bytes, *, tenant_id: int, version: int) -> WrappedKey:
    """Wrap an existing data key under the current wrapping key (KMS if configured)."""
    kms_key_id = setting("KMS_KEY_ID")
    if kms_key_id:
        response = _kms().encrypt(KeyId=kms_key_id, Plaintext=data_key,
                                  EncryptionContext=_kms_context(tenant_id, version))
        return WrappedKey(response["CiphertextBlob"], KeyWrapper.KMS, response["KeyId"])
    raw = _decode_master(setting("AYBIZA_MASTER_KEY"))
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(raw).encrypt(nonce, data_key, _aad(tenant_id, version))
    return WrappedKey(nonce + sealed, KeyWrapper.LOCAL, master_key_id(raw))


def unwrap(wrapped: WrappedKey, *, tenant_id: int, version: int) -> bytes:
    """The plaintext data key. Local keys may be wrapped by a previous master key."""
    if wrapped.wrapped_by == KeyWrapper.KMS:
        response = _kms().decrypt(CiphertextBlob=wrapped.wrapped_key,
                                  EncryptionContext=_kms_context(tenant_id, version))
        return response["Plaintext"]
    raw = _master_keys().get(wrapped.wrapping_key_id)
    if raw is None:
        raise KeyUnavailable("The master key that wrapped this data key is not configured.",
                             extra={"wrapping_key_id": wrapped.wrapping_key_id})
    nonce, sealed = wrapped.wrapped_key[:_NONCE_BYTES], wrapped.wrapped_key[_NONCE_BYTES:]
    try:
        return AESGCM(raw).decrypt(nonce, sealed, _aad(tenant_id, version))
    except InvalidTag as exc:
        raise KeyUnavailable("The data key does not unwrap with its master key.") from exc


def current_wrapper() -> str:
    """What new wraps use: "kms" when KMS_KEY_ID is set, else "local"."""
    return KeyWrapper.KMS if setting("KMS_KEY_ID") else KeyWrapper.LOCAL
