"""Who is using the portal, for which tenant, and what they may do.

Every portal view is wrapped by `portal_view`: anonymous users go to the login page, members get
`request.member` (tenant + role), viewers get 403 on every write, and a NotFound raised by a
selector (another tenant's id looks exactly like a missing one) becomes the portal's 404 page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from aybiza.core.errors import NotFound
from aybiza.core.models import MANAGE_ROLES, WRITE_ROLES, Membership, Role, Tenant
from aybiza.core.selectors import membership_for_user, tenants_for_user
from aybiza.core.tenancy import SESSION_TENANT_KEY

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Member:
    """The signed-in user as a member of the tenant the portal shows."""

    tenant: Tenant
    role: str

    @property
    def can_write(self) -> bool:
        return self.role in WRITE_ROLES

    @property
    def can_manage_team(self) -> bool:
        return self.role in MANAGE_ROLES

    @property
    def role_label(self) -> str:
        return Role(self.role).label

    @classmethod
    def of(cls, membership: Membership) -> Member:
        return cls(tenant=membership.tenant, role=membership.role)


def request_member(request: HttpRequest) -> Member | None:
    """The member behind a portal request, or None (anonymous, or no active membership)."""
    cached = getattr(request, "_portal_member", None)
    if cached is not None:
        return cached
    if not request.user.is_authenticated:
        return None
    membership = membership_for_user(user=request.user,
                                     slug=request.session.get(SESSION_TENANT_KEY))
    if membership is None and request.session.get(SESSION_TENANT_KEY):
        # The chosen tenant is gone or the membership ended: fall back to the first one.
        membership = membership_for_user(user=request.user)
    member = Member.of(membership) if membership else None
    request._portal_member = member
    return member


def portal_view(*, write_page: bool = False, write_roles: frozenset = WRITE_ROLES) -> Callable:
    """Wrap a portal view. Writes (any unsafe method, or every method when `write_page`, for
    pages that only exist to change something) need one of `write_roles`; others get 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("portal:login"))
            member = request_member(request)
            if member is None:
                return render(request, "portal/no_tenant.html", status=403)
            request.member = member
            # The member's teams, for the switcher in the top bar (queried only if shown).
            request.member_tenants = SimpleLazyObject(
                lambda: list(tenants_for_user(user=request.user)))
            writes = write_page or request.method not in SAFE_METHODS
            if writes and member.role not in write_roles:
                return render(request, "portal/403.html", status=403)
            try:
                return view(request, *args, **kwargs)
            except NotFound as exc:
                return render(request, "portal/404.html", {"message": exc.message}, status=404)

        return wrapped

    return decorator
