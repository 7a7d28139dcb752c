"""Selectors for tenants and keys: every read takes the tenant explicitly."""

from __future__ import annotations

from django.db.models import QuerySet

from aybiza.core.errors import NotFound
from aybiza.core.models import ApiKey, Membership, Tenant


def tenant_for_user(*, user, slug: str | None = None) -> Tenant | None:
    """The tenant a signed-in user acts for: the one named by slug, else their first."""
    memberships = Membership.objects.filter(user=user, tenant__is_active=True)
    if slug:
        memberships = memberships.filter(tenant__slug=slug)
    membership = memberships.select_related("tenant").order_by("created_at").first()
    return membership.tenant if membership else None


def membership_role(*, user, tenant: Tenant) -> str | None:
    membership = Membership.objects.filter(user=user, tenant=tenant).first()
    return membership.role if membership else None


def api_key_list(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=tenant)


def api_key_get(*, tenant: Tenant, pk: int) -> ApiKey:
    api_key = ApiKey.objects.filter(tenant=tenant, pk=pk).first()
    if api_key is None:
        raise NotFound("API key not found.")
    return api_key
