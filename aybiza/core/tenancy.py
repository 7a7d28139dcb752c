"""Resolving the tenant of a request: the API key's, or the signed-in member's."""

from __future__ import annotations

from aybiza.core.errors import NotFound
from aybiza.core.models import ApiKey, Tenant
from aybiza.core.selectors import membership_role, tenant_for_user

TENANT_HEADER = "X-Aybiza-Tenant"
# The tenant a portal member with several memberships chose (a slug in their session); absent
# means their first. Read by the portal pages and the browser test call's WebSocket.
SESSION_TENANT_KEY = "portal_tenant"


def request_tenant_role(request) -> tuple[Tenant | None, str | None]:
    """(tenant, role) for the request; cached on it. Keys have no role (scopes decide)."""
    cached = getattr(request, "_aybiza_tenant_role", None)
    if cached is not None:
        return cached
    if isinstance(request.auth, ApiKey):
        result: tuple[Tenant | None, str | None] = (request.auth.tenant, None)
    elif request.user and request.user.is_authenticated:
        tenant = tenant_for_user(user=request.user, slug=request.headers.get(TENANT_HEADER))
        role = membership_role(user=request.user, tenant=tenant) if tenant else None
        result = (tenant, role)
    else:
        result = (None, None)
    request._aybiza_tenant_role = result
    return result


def request_tenant(request) -> Tenant:
    tenant, _ = request_tenant_role(request)
    if tenant is None:  # the permission class already refused such requests
        raise PermissionError("No tenant for this request.")
    return tenant


def ensure_owned(tenant: Tenant, instance) -> None:
    """Refuse an object of another tenant exactly as a missing one (404 "<Model> not found."):
    a service handed a row must never act on it for the wrong tenant, nor reveal that it exists."""
    if instance.tenant_id != tenant.pk:
        raise NotFound(f"{instance._meta.verbose_name.capitalize()} not found.")
