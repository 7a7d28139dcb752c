"""Compliance: the audit log with a real chain verification, retention periods, and a caller's
data (export as a JSON download, or erasure)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from aybiza.core.errors import ApplicationError, NotFound
from aybiza.core.models import MANAGE_ROLES
from aybiza.portal.access import portal_view
from aybiza.portal.forms import RetentionForm, SubjectForm, add_service_errors
from compliance.models import ErasureRequest, ErasureRequestStatus
from compliance.selectors import (
    audit_chain_verify,
    audit_chains,
    audit_event_list,
    retention_policy_get,
)
from compliance.services import retention_policy_set, subject_erase, subject_export
from compliance.services.erasure_requests import (
    erasure_request_decide,
    erasure_request_phone,
)
from compliance.services.retention import POLICY_FIELDS

EVENTS_PER_PAGE = 50


def _page(request, *, retention_form=None, subject_form=None):
    tenant = request.member.tenant
    events = Paginator(audit_event_list(tenant=tenant), EVENTS_PER_PAGE).get_page(
        request.GET.get("page"))
    verification = None
    if request.GET.get("verify"):
        chain = audit_chains(tenant=tenant)[0]
        verification = {"problems": audit_chain_verify(chain=chain),
                        "count": events.paginator.count}
    if retention_form is None:
        policy = retention_policy_get(tenant=tenant)
        retention_form = RetentionForm(initial={name: getattr(policy, name)
                                                for name in POLICY_FIELDS} if policy else {})
    pending = [(row, erasure_request_phone(tenant=tenant, request=row)) for row in
               ErasureRequest.objects.filter(tenant=tenant, status=ErasureRequestStatus.PENDING)
               .order_by("created_at")[:50]]
    return render(request, "portal/compliance.html", {
        "events": events, "verification": verification, "retention_form": retention_form,
        "subject_form": subject_form or SubjectForm(), "erasure_requests": pending})


@portal_view()
def compliance_index(request):
    return _page(request)


@require_POST
@portal_view()
def retention_update(request):
    form = RetentionForm(request.POST)
    if form.is_valid():
        try:
            retention_policy_set(tenant=request.member.tenant, actor=request.user,
                                 **form.cleaned_data)
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Saved the retention periods.")
            return redirect("portal:compliance")
    return _page(request, retention_form=form)


@require_POST
@portal_view(write_roles=MANAGE_ROLES)
def erasure_request_decide_view(request, pk: int):
    """A caller asked by voice to be forgotten: erase everything about the number, or dismiss
    the request (owners and admins)."""
    tenant = request.member.tenant
    row = ErasureRequest.objects.filter(tenant=tenant, pk=pk).first()
    if row is None:
        raise NotFound("Erasure request not found.")
    erase = request.POST.get("decision") == "erase"
    try:
        counts = erasure_request_decide(tenant=tenant, request=row, erase=erase,
                                        actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, ("Erased: " + ", ".join(
            f"{count} {name.replace('_', ' ')}" for name, count in counts.items()) + ".")
            if erase else "Dismissed the request; nothing was erased.")
    return redirect("portal:compliance")


@require_POST
@portal_view()
def subject_request(request):
    """Export a caller's data as a download, or (owners and admins) erase it."""
    form = SubjectForm(request.POST)
    if not form.is_valid():
        return _page(request, subject_form=form)
    tenant, phone = request.member.tenant, form.cleaned_data["phone"]
    try:
        if form.cleaned_data["erase"]:
            if request.member.role not in MANAGE_ROLES:
                form.add_error("erase", "Only owners and admins may erase a caller's data.")
                return _page(request, subject_form=form)
            counts = subject_erase(tenant=tenant, phone_number=phone, actor=request.user)
            messages.success(request, "Erased: " + ", ".join(
                f"{count} {name.replace('_', ' ')}" for name, count in counts.items()) + ".")
            return redirect("portal:compliance")
        bundle = subject_export(tenant=tenant, phone_number=phone, actor=request.user)
    except ApplicationError as exc:
        add_service_errors(form, exc)
        return _page(request, subject_form=form)
    response = HttpResponse(json.dumps(bundle, indent=2, ensure_ascii=False, default=str),
                            content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="caller-data.json"'
    response["Cache-Control"] = "no-store"
    return response
