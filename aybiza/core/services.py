"""Services for tenants, memberships and API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from aybiza.core.errors import ApplicationError
from aybiza.core.models import ApiKey, Membership, Role, Scope, Tenant
from compliance.services import audit_record

API_KEY_PREFIX = "ayb"
# Touch last_used_at at most this often: a busy key must not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def tenant_create(*, name: str, slug: str | None = None) -> Tenant:
    """Create a tenant. Without `slug`, one is derived from the name and made unique."""
    name = name.strip()
    if not name:
        raise ApplicationError("A tenant needs a name.", extra={"fields": {"name": ["Required."]}})
    if slug:
        if Tenant.objects.filter(slug=slug).exists():
            raise ApplicationError("This slug is taken.",
                                   extra={"fields": {"slug": ["This slug is taken."]}})
        return Tenant.objects.create(name=name, slug=slug)
    base = slugify(name)[:70] or "tenant"
    slug, suffix = base, 1
    # Two businesses may share a name; the slug only has to tell them apart.
    while Tenant.objects.filter(slug=slug).exists():
        suffix += 1
        slug = f"{base}-{suffix}"
    return Tenant.objects.create(name=name, slug=slug)


def membership_set(*, tenant: Tenant, user, role: str = Role.MEMBER) -> Membership:
    """Give `user` `role` in `tenant` (creating or changing the membership)."""
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.")
    membership, _ = Membership.objects.update_or_create(
        tenant=tenant, user=user, defaults={"role": role}
    )
    return membership


@dataclass(frozen=True)
class IssuedApiKey:
    """An API key as created: `key` is the only copy of the secret and is shown once."""

    api_key: ApiKey
    key: str


def hash_api_key(key: str) -> str:
    # Keys are 256-bit random secrets, so a plain SHA-256 is enough (no password stretching).
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_create(
    *, tenant: Tenant, name: str, scopes: list[str] | None = None, created_by=None
) -> IssuedApiKey:
    """Issue a key for `tenant`. The secret is in the result only; the row keeps its hash."""
    scopes = list(dict.fromkeys(scopes or [Scope.READ, Scope.WRITE]))
    unknown = [s for s in scopes if s not in Scope.values]
    if unknown or not scopes:
        raise ApplicationError(
            "Scopes must be a non-empty subset of read, write.",
            extra={"fields": {"scopes": [f"Unknown scope: {s}" for s in unknown] or ["Empty."]}},
        )
    prefix = secrets.token_hex(4)
    key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            tenant=tenant, name=name.strip() or "API key", prefix=prefix,
            key_hash=hash_api_key(key), scopes=scopes,
            # An API key may create keys too; only a user is stored as the creator.
            created_by=created_by if hasattr(created_by, "_meta") else None,
        )
        audit_record(action="api_key.created", tenant=tenant, target=api_key, actor=created_by)
    return IssuedApiKey(api_key=api_key, key=key)


def api_key_revoke(*, api_key: ApiKey, actor=None) -> ApiKey:
    """Revoke `api_key` (idempotent: the first revocation time is kept)."""
    if api_key.revoked_at is None:
        with transaction.atomic():
            api_key.revoked_at = timezone.now()
            api_key.save(update_fields=["revoked_at", "updated_at"])
            audit_record(action="api_key.revoked", tenant=api_key.tenant, target=api_key,
                         actor=actor)
    return api_key


def api_key_authenticate(*, key: str) -> ApiKey | None:
    """The active key matching `key`, or None. Constant-time comparison of the hash."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    api_key = ApiKey.objects.select_related("tenant").filter(prefix=parts[1]).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, hash_api_key(key)):
        return None
    if api_key.revoked_at is not None or not api_key.tenant.is_active:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
