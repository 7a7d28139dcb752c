"""Sign in, sign out, change or reset a password: Django's auth views, the portal's templates."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from aybiza.core.selectors import membership_for_user
from aybiza.portal.access import SESSION_TENANT_KEY
from aybiza.portal.forms import LoginForm
from aybiza.portal.password_reset import CappedPasswordResetForm, reset_by_email_available

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

# Forgotten passwords: a signed, single-use link by e-mail (Django's token: it stops working
# once the password changes or after PASSWORD_RESET_TIMEOUT), never an answer that tells
# whether the address has an account.
password_reset = auth_views.PasswordResetView.as_view(
    template_name="portal/password_reset.html", form_class=CappedPasswordResetForm,
    email_template_name="portal/email/password_reset.txt",
    subject_template_name="portal/email/password_reset_subject.txt",
    success_url=reverse_lazy("portal:password-reset-done"),
    extra_context={"reset_available": reset_by_email_available},
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(
    template_name="portal/password_reset_done.html")
password_reset_confirm = auth_views.PasswordResetConfirmView.as_view(
    template_name="portal/password_reset_confirm.html",
    success_url=reverse_lazy("portal:password-reset-complete"))
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="portal/password_reset_complete.html")


@require_POST
@login_required(login_url=reverse_lazy("portal:login"))
def switch_tenant(request):
    """Act for another of the user's teams (any role may switch: it changes nothing)."""
    membership = membership_for_user(user=request.user, slug=request.POST.get("tenant") or "-")
    if membership is None:
        return render(request, "portal/404.html", {"message": "Team not found."}, status=404)
    request.session[SESSION_TENANT_KEY] = membership.tenant.slug
    return redirect("portal:home")
