"""Who may do what: a key's scopes or a member's role, always within one tenant."""

from __future__ import annotations

from rest_framework import permissions

from aybiza.core.models import WRITE_ROLES, ApiKey, Scope
from aybiza.core.tenancy import request_tenant_role


class TenantScopePermission(permissions.BasePermission):
    """Reads need the read scope (or any role); writes need the write scope (or a write role)."""

    message = "This key or role may not do that."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        write = request.method not in permissions.SAFE_METHODS
        if isinstance(request.auth, ApiKey):
            return request.auth.has_scope(Scope.WRITE if write else Scope.READ)
        tenant, role = request_tenant_role(request)
        if tenant is None:
            return False
        return role in WRITE_ROLES if write else True
