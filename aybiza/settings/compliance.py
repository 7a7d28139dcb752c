"""Compliance: master key / KMS for envelope encryption, login lockout, data-subject hashing.

Imported by `base.py` (`from .compliance import *`); production calls `require_production_keys()`.
"""

import base64
import hashlib

from django.core.exceptions import ImproperlyConfigured

from .env import env

# The embedded default wraps data keys with this documented development key:
# base64(SHA-256(b"aybiza-development-master-key")). Anyone can derive it, so prod refuses it.
DEV_MASTER_KEY: str = base64.b64encode(
    hashlib.sha256(b"aybiza-development-master-key").digest()
).decode()
# Base64 of 32 random bytes, e.g. `openssl rand -base64 32`.
AYBIZA_MASTER_KEY: str = env("AYBIZA_MASTER_KEY", default=DEV_MASTER_KEY)
# Master keys that may still wrap older data keys (comma separated); `rotate_keys` re-wraps them.
AYBIZA_PREVIOUS_MASTER_KEYS: list[str] = env.list("AYBIZA_PREVIOUS_MASTER_KEYS", default=[])
# When set, new data keys are generated and wrapped by AWS KMS instead of the local master key.
KMS_KEY_ID: str = env("KMS_KEY_ID", default="")
KMS_REGION: str = env("KMS_REGION", default=env("AWS_REGION", default="us-east-1"))
KMS_ENDPOINT_URL: str = env("KMS_ENDPOINT_URL", default="")
# Call recordings on S3 (RECORDINGS_S3_BUCKET): SSE-KMS under a key per tenant, found by this
# alias prefix + the tenant id (compliance/recording_keys.py); created on first use unless false.
RECORDINGS_KMS_ALIAS_PREFIX: str = env("RECORDINGS_KMS_ALIAS_PREFIX",
                                       default="alias/aybiza-recordings-tenant-")
RECORDINGS_KMS_CREATE_KEYS: bool = env.bool("RECORDINGS_KMS_CREATE_KEYS", default=True)
# Unwrapped data keys are cached per process: bounded, and short-lived.
DATA_KEY_CACHE_SIZE: int = env.int("DATA_KEY_CACHE_SIZE", default=1024)
DATA_KEY_CACHE_TTL_S: int = env.int("DATA_KEY_CACHE_TTL_S", default=300)

# Login lockout: this many failures for one username from one IP within the window locks it;
# the account itself locks after LOGIN_LOCKOUT_ACCOUNT_ATTEMPTS failures from any addresses.
LOGIN_LOCKOUT_ATTEMPTS: int = env.int("LOGIN_LOCKOUT_ATTEMPTS", default=5)
LOGIN_LOCKOUT_ACCOUNT_ATTEMPTS: int = env.int("LOGIN_LOCKOUT_ACCOUNT_ATTEMPTS", default=20)
LOGIN_LOCKOUT_WINDOW_S: int = env.int("LOGIN_LOCKOUT_WINDOW_S", default=15 * 60)
# Proxies (CIDRs, comma separated) whose X-Forwarded-For is believed; empty = none, the peer's
# address is the client's. Anyone else can write that header.
TRUSTED_PROXIES: list[str] = env.list("TRUSTED_PROXIES", default=[])

# Key for the salted hashes of erased phone numbers and of failed-login usernames / IPs.
# Empty: derived from SECRET_KEY (so rotating SECRET_KEY changes the tombstones' hashes).
COMPLIANCE_HASH_KEY: str = env("COMPLIANCE_HASH_KEY", default="")
# Region used to read national phone numbers in data-subject requests and redaction.
COMPLIANCE_DEFAULT_REGION: str = env("COMPLIANCE_DEFAULT_REGION", default="US")


def require_production_keys() -> None:
    """Refuse to start with the development master key unless KMS wraps the data keys."""
    if KMS_KEY_ID:
        return
    if AYBIZA_MASTER_KEY == DEV_MASTER_KEY:
        raise ImproperlyConfigured(
            "AYBIZA_MASTER_KEY is the development key; set a real one or KMS_KEY_ID."
        )
    try:
        raw = base64.b64decode(AYBIZA_MASTER_KEY, validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured("AYBIZA_MASTER_KEY must be base64.") from exc
    if len(raw) != 32:
        raise ImproperlyConfigured("AYBIZA_MASTER_KEY must decode to 32 bytes.")
