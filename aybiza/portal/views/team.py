"""Team: members and their roles, invitations (the link is shown once), and accepting one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from aybiza.core.errors import ApplicationError
from aybiza.core.models import MANAGE_ROLES, Role
from aybiza.core.selectors import (
    invitation_get,
    invitation_list,
    membership_get,
    membership_list,
)
from aybiza.core.services import (
    invitation_accept,
    invitation_by_token,
    invitation_create,
    invitation_revoke,
    membership_change_role,
    membership_remove,
)
from aybiza.portal.access import SESSION_TENANT_KEY, portal_view
from aybiza.portal.forms import InviteForm, MemberRoleForm, add_service_errors

# The backend that logs a newly signed-up member in (the project's, behind the lockout).
LOGIN_BACKEND = "compliance.auth.LockoutModelBackend"


def _team_page(request, *, invite_form=None, issued=None):
    tenant = request.member.tenant
    return render(request, "portal/team.html", {
        "members": membership_list(tenant=tenant),
        "invitations": invitation_list(tenant=tenant, pending=True),
        "invite_form": invite_form or InviteForm(),
        "roles": Role.choices,
        "issued": issued,
        "invite_link": (request.build_absolute_uri(
            reverse("portal:invitation-accept", args=[issued.token])) if issued else ""),
    })


@portal_view()
def team_index(request):
    return _team_page(request)


@never_cache  # the page carries the only copy of the invitation link
@require_POST
@portal_view(write_roles=MANAGE_ROLES)
def team_invite(request):
    form = InviteForm(request.POST)
    issued = None
    if form.is_valid():
        try:
            issued = invitation_create(
                tenant=request.member.tenant, email=form.cleaned_data["email"],
                role=form.cleaned_data["role"], invited_by=request.user,
                invited_by_role=request.member.role)
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            form = InviteForm()
    return _team_page(request, invite_form=form, issued=issued)


@require_POST
@portal_view(write_roles=MANAGE_ROLES)
def member_role(request, pk: int):
    membership = membership_get(tenant=request.member.tenant, pk=pk)
    form = MemberRoleForm(request.POST)
    try:
        if not form.is_valid():
            raise ApplicationError("Choose a role.")
        membership_change_role(membership=membership, role=form.cleaned_data["role"],
                               actor=request.user, actor_role=request.member.role)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{membership.user.get_username()} is now "
                                  f"{membership.get_role_display().lower()}.")
    return redirect("portal:team")


@require_POST
@portal_view(write_roles=MANAGE_ROLES)
def member_remove(request, pk: int):
    membership = membership_get(tenant=request.member.tenant, pk=pk)
    try:
        membership_remove(membership=membership, actor=request.user,
                          actor_role=request.member.role)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Removed {membership.user.get_username()} from the team.")
    return redirect("portal:team")


@require_POST
@portal_view(write_roles=MANAGE_ROLES)
def invitation_revoke_view(request, pk: int):
    invitation = invitation_get(tenant=request.member.tenant, pk=pk)
    invitation_revoke(invitation=invitation, actor=request.user)
    messages.success(request, f"Revoked the invitation for {invitation.email}.")
    return redirect("portal:team")


class SignUpForm(UserCreationForm):
    """A new account for an invited person (the invitation gives it its e-mail)."""


@never_cache
def invitation_accept_view(request, token: str):
    """Join a team from an invitation link: signed in, with one button; otherwise by creating
    an account (or signing in first and coming back)."""
    invitation = invitation_by_token(token=token)
    if invitation is None:
        return render(request, "portal/404.html",
                      {"message": "This invitation is not valid any more (used, revoked or "
                                  "expired)."}, status=404)
    signed_in = request.user.is_authenticated
    form = None if signed_in else SignUpForm(request.POST or None)
    if request.method == "POST" and (signed_in or form.is_valid()):
        user = request.user
        try:
            with transaction.atomic():  # no account is left behind if the invitation just ended
                if not signed_in:
                    user = form.save(commit=False)
                    user.email = invitation.email
                    user.save()
                invitation_accept(token=token, user=user)
        except ApplicationError as exc:
            return render(request, "portal/404.html", {"message": exc.message}, status=404)
        if not signed_in:
            login(request, user, backend=LOGIN_BACKEND)
        request.session[SESSION_TENANT_KEY] = invitation.tenant.slug
        messages.success(request, f"Welcome to {invitation.tenant.name}.")
        return redirect("portal:home")
    login_url = f"{reverse('portal:login')}?next={request.path}"
    return render(request, "portal/invitation.html",
                  {"invitation": invitation, "form": form, "login_url": login_url})
