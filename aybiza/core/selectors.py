"""Selectors for tenants and keys: every read takes the tenant explicitly."""

from __future__ import annotations

import re

from django.db.models import QuerySet
from django.utils import timezone

from aybiza.core.errors import NotFound
from aybiza.core.models import ApiKey, Invitation, Membership, Tenant, WebhookEndpoint

# A primary key as it may arrive in a URL: digits that fit a signed 64-bit column.
_PK_PATTERN = re.compile(r"[0-9]{1,18}")


def parse_pk(pk: object) -> int | None:
    """`pk` as an int, or None when it cannot name a row (so callers answer 404, never 500)."""
    text = str(pk)
    return int(text) if _PK_PATTERN.fullmatch(text) else None


def tenant_by_slug(*, slug: str) -> Tenant | None:
    return Tenant.objects.filter(slug=slug).first()


def membership_for_user(*, user, slug: str | None = None) -> Membership | None:
    """The membership (with its tenant) a signed-in user acts through: the one in the tenant
    named by slug, else their first; one query."""
    memberships = Membership.objects.filter(user=user, tenant__is_active=True)
    if slug:
        memberships = memberships.filter(tenant__slug=slug)
    return memberships.select_related("tenant").order_by("created_at", "id").first()


def tenants_for_user(*, user) -> QuerySet[Tenant]:
    """The active tenants the user is a member of, in the order they joined."""
    return (Tenant.objects.filter(memberships__user=user, is_active=True)
            .order_by("memberships__created_at", "id"))


def tenant_for_user(*, user, slug: str | None = None) -> Tenant | None:
    """The tenant a signed-in user acts for: the one named by slug, else their first."""
    membership = membership_for_user(user=user, slug=slug)
    return membership.tenant if membership else None


def membership_role(*, user, tenant: Tenant) -> str | None:
    membership = Membership.objects.filter(user=user, tenant=tenant).first()
    return membership.role if membership else None


def api_key_list(*, tenant: Tenant, name: str | None = None,
                 active: bool | None = None) -> QuerySet[ApiKey]:
    keys = ApiKey.objects.filter(tenant=tenant)
    if name is not None:
        keys = keys.filter(name=name)
    if active is not None:
        keys = keys.filter(revoked_at__isnull=active)
    return keys.order_by("-created_at", "-id")


def api_key_get(*, tenant: Tenant, pk) -> ApiKey:
    pk = parse_pk(pk)
    api_key = ApiKey.objects.filter(tenant=tenant, pk=pk).first() if pk is not None else None
    if api_key is None:
        raise NotFound("API key not found.")
    return api_key


def membership_list(*, tenant: Tenant) -> QuerySet[Membership]:
    return (Membership.objects.filter(tenant=tenant).select_related("user")
            .order_by("created_at", "id"))


def membership_get(*, tenant: Tenant, pk) -> Membership:
    pk = parse_pk(pk)
    membership = membership_list(tenant=tenant).filter(pk=pk).first() if pk is not None else None
    if membership is None:
        raise NotFound("Member not found.")
    return membership


def invitation_list(*, tenant: Tenant, pending: bool | None = None) -> QuerySet[Invitation]:
    invitations = Invitation.objects.filter(tenant=tenant).select_related("invited_by")
    if pending:
        invitations = invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True,
                                         expires_at__gt=timezone.now())
    return invitations.order_by("-created_at", "-id")


def invitation_get(*, tenant: Tenant, pk) -> Invitation:
    pk = parse_pk(pk)
    invitation = (Invitation.objects.filter(tenant=tenant, pk=pk).first()
                  if pk is not None else None)
    if invitation is None:
        raise NotFound("Invitation not found.")
    return invitation


def webhook_list(*, tenant: Tenant) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(tenant=tenant).order_by("id")


def webhook_get(*, tenant: Tenant, pk) -> WebhookEndpoint:
    pk = parse_pk(pk)
    endpoint = webhook_list(tenant=tenant).filter(pk=pk).first() if pk is not None else None
    if endpoint is None:
        raise NotFound("Webhook not found.")
    return endpoint
