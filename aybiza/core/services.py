"""Services for tenants, memberships and API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from aybiza.core.errors import ApplicationError
from aybiza.core.models import ApiKey, Invitation, Membership, Role, Scope, Tenant
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


def grantable_scopes(*, role: str | None = None, api_key: ApiKey | None = None) -> list[str]:
    """Scopes a member or a key may put on a new key: a key no more than its own; a member read
    and write, and recordings only in a role that may play them (RECORDING_ROLES)."""
    if api_key is not None:
        return [scope for scope in Scope.values if api_key.has_scope(scope)]
    return [scope for scope in Scope.values
            if scope != Scope.RECORDINGS or role in settings.RECORDING_ROLES]


def api_key_create(
    *, tenant: Tenant, name: str, scopes: list[str] | None = None, created_by=None,
    grantable: list[str] | None = None,
) -> IssuedApiKey:
    """Issue a key for `tenant`. The secret is in the result only; the row keeps its hash.

    `grantable` (from `grantable_scopes`) bounds what the creator may hand out: a member or key
    cannot mint a key that may do more than they may."""
    scopes = list(dict.fromkeys(scopes or [Scope.READ, Scope.WRITE]))
    unknown = [s for s in scopes if s not in Scope.values]
    if unknown or not scopes:
        raise ApplicationError(
            f"Scopes must be a non-empty subset of {', '.join(Scope.values)}.",
            extra={"fields": {"scopes": [f"Unknown scope: {s}" for s in unknown] or ["Empty."]}},
        )
    refused = [s for s in scopes if grantable is not None and s not in grantable]
    if refused:
        raise ApplicationError(
            f"You may not grant the scope{'s' if len(refused) > 1 else ''} {', '.join(refused)}.",
            extra={"fields": {"scopes": [f"Not yours to grant: {s}" for s in refused]}},
            status_code=403, code="permission_denied")
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


# --- team: roles and invitations ----------------------------------------------------------------

INVITATION_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class IssuedInvitation:
    """An invitation as created: `token` is the only copy of the secret in its link."""

    invitation: Invitation
    token: str


def hash_invitation_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_may_grant(*, actor_role: str | None, role: str) -> None:
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", extra={"fields": {"role": ["Unknown."]}})
    if role == Role.OWNER and actor_role != Role.OWNER:
        raise ApplicationError("Only an owner may make someone an owner.",
                               extra={"fields": {"role": ["Only an owner may grant this."]}},
                               status_code=403, code="permission_denied")


def invitation_create(*, tenant: Tenant, email: str, role: str, invited_by,
                      invited_by_role: str | None) -> IssuedInvitation:
    """Invite `email` to `tenant` with `role`; the result carries the token for the link."""
    _check_may_grant(actor_role=invited_by_role, role=role)
    email = email.strip()
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        raise ApplicationError("This person is already a member.",
                               extra={"fields": {"email": ["Already a member."]}})
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = Invitation.objects.create(
            tenant=tenant, email=email, role=role, token_hash=hash_invitation_token(token),
            invited_by=invited_by, expires_at=timezone.now() + INVITATION_LIFETIME)
        audit_record(action="invitation.created", tenant=tenant, target=invitation,
                     actor=invited_by, payload={"role": role})
    return IssuedInvitation(invitation=invitation, token=token)


def invitation_by_token(*, token: str) -> Invitation | None:
    """The pending invitation a link's token names, or None (unknown, used, revoked, expired)."""
    invitation = (Invitation.objects.select_related("tenant")
                  .filter(token_hash=hash_invitation_token(token)).first())
    if invitation is None or not invitation.is_pending or not invitation.tenant.is_active:
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user) -> Membership:
    """Make `user` a member as the invitation says; the token works once."""
    invitation = invitation_by_token(token=token)
    if invitation is not None:
        # Lock it: two tabs accepting at once must not both succeed.
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation is None or not invitation.is_pending:
        raise ApplicationError("This invitation is no longer valid.", status_code=404,
                               code="not_found")
    existing = Membership.objects.filter(tenant=invitation.tenant, user=user).first()
    membership = existing or Membership.objects.create(tenant=invitation.tenant, user=user,
                                                       role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    audit_record(action="invitation.accepted", tenant=invitation.tenant, target=invitation,
                 actor=user)
    return membership


def invitation_revoke(*, invitation: Invitation, actor=None) -> Invitation:
    if invitation.revoked_at is None and invitation.accepted_at is None:
        with transaction.atomic():
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at", "updated_at"])
            audit_record(action="invitation.revoked", tenant=invitation.tenant,
                         target=invitation, actor=actor)
    return invitation


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor,
                           actor_role: str | None) -> Membership:
    """Give a member another role. Only owners grant or take away ownership, and a tenant
    always keeps at least one owner."""
    _check_may_grant(actor_role=actor_role, role=role)
    if membership.role == Role.OWNER and actor_role != Role.OWNER:
        raise ApplicationError("Only an owner may change an owner's role.",
                               extra={"fields": {"role": ["Only an owner may change this."]}},
                               status_code=403, code="permission_denied")
    if membership.role == Role.OWNER and role != Role.OWNER:
        _keep_an_owner(membership)
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    audit_record(action="membership.role_changed", tenant=membership.tenant,
                 target=membership, actor=actor, payload={"role": role})
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor, actor_role: str | None) -> None:
    """Remove a member from the tenant (their user account stays)."""
    if membership.role == Role.OWNER:
        if actor_role != Role.OWNER:
            raise ApplicationError("Only an owner may remove an owner.", status_code=403,
                                   code="permission_denied")
        _keep_an_owner(membership)
    audit_record(action="membership.removed", tenant=membership.tenant, target=membership,
                 actor=actor)
    membership.delete()


def _keep_an_owner(membership: Membership) -> None:
    owners = (Membership.objects.select_for_update()
              .filter(tenant_id=membership.tenant_id, role=Role.OWNER))
    if not owners.exclude(pk=membership.pk).exists():
        raise ApplicationError("A team needs at least one owner; make someone else owner first.",
                               extra={"fields": {"role": ["The last owner stays owner."]}})

