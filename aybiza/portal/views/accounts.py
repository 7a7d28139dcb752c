"""Sign in, sign out, change password: Django's auth views with the portal's templates."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from aybiza.core.selectors import membership_for_user
from aybiza.portal.access import SESSION_TENANT_KEY
from aybiza.portal.forms import LoginForm

login = auth_views.LoginView.as_view(
    template_name="portal/login.html", authentication_form=LoginForm,
    redirect_authenticated_user=True, next_page=reverse_lazy("portal:home"),
)
# POST only (Django 5): a link cannot sign anyone out.
logout = auth_views.LogoutView.as_view(next_page=reverse_lazy("portal:login"))
# Any member may change their own password (viewers too), so not behind portal_view's roles.
password_change = login_required(auth_views.PasswordChangeView.as_view(
    template_name="portal/password_change.html", success_url=reverse_lazy("portal:home"),
), login_url=reverse_lazy("portal:login"))


@require_POST
@login_required(login_url=reverse_lazy("portal:login"))
def switch_tenant(request):
    """Act for another of the user's teams (any role may switch: it changes nothing)."""
    membership = membership_for_user(user=request.user, slug=request.POST.get("tenant") or "-")
    if membership is None:
        return render(request, "portal/404.html", {"message": "Team not found."}, status=404)
    request.session[SESSION_TENANT_KEY] = membership.tenant.slug
    return redirect("portal:home")
