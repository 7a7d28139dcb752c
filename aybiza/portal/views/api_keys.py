"""API keys: create (the secret is shown once, never stored), list by prefix, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from aybiza.core.errors import ApplicationError
from aybiza.core.selectors import api_key_get, api_key_list
from aybiza.core.services import api_key_create, api_key_revoke, grantable_scopes
from aybiza.portal.access import portal_view
from aybiza.portal.forms import ApiKeyForm, add_service_errors


@portal_view()
def api_key_index(request):
    keys = api_key_list(tenant=request.member.tenant)
    return render(request, "portal/api_keys/list.html", {"keys": keys})


@never_cache  # the response carries the only copy of the secret
@portal_view(write_page=True)
def api_key_new(request):
    grantable = grantable_scopes(role=request.member.role)
    form = ApiKeyForm(request.POST or None, grantable=grantable)
    if request.method == "POST" and form.is_valid():
        try:
            issued = api_key_create(tenant=request.member.tenant, name=form.cleaned_data["name"],
                                    scopes=form.cleaned_data["scopes"], created_by=request.user,
                                    grantable=grantable)
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            return render(request, "portal/api_keys/created.html",
                          {"api_key": issued.api_key, "secret": issued.key})
    return render(request, "portal/api_keys/form.html", {"form": form})


@require_POST
@portal_view(write_page=True)
def api_key_revoke_view(request, pk: int):
    api_key = api_key_get(tenant=request.member.tenant, pk=pk)
    api_key_revoke(api_key=api_key, actor=request.user)
    messages.success(request, f"Revoked the key “{api_key.name}” ({api_key.prefix}…).")
    return redirect("portal:api-keys")
