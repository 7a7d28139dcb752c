"""Contacts: who called, what the agents remember about them, and forgetting it."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from aybiza.core.errors import ApplicationError
from aybiza.portal.access import portal_view
from aybiza.portal.forms import ContactForm, add_service_errors
from calls.selectors import call_list
from memory.selectors import (
    contact_facts,
    contact_get,
    contact_list,
    contact_name,
    contact_phone,
)
from memory.services import contact_update, memory_forget

CONTACTS_PER_PAGE = 25


@portal_view()
def contact_index(request):
    contacts = contact_list(tenant=request.member.tenant).annotate(
        fact_count=Count("facts"))
    page = Paginator(contacts, CONTACTS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"contact": contact, "name": contact_name(contact), "phone": contact_phone(contact)}
            for contact in page]
    return render(request, "portal/contacts/list.html", {"page": page, "rows": rows})


@portal_view()
def contact_detail(request, pk: int):
    tenant = request.member.tenant
    contact = contact_get(tenant=tenant, pk=pk)
    form = ContactForm(request.POST or None, initial={
        "name": contact_name(contact), "do_not_remember": contact.do_not_remember})
    if request.method == "POST" and form.is_valid():
        try:
            contact_update(tenant=tenant, contact=contact, actor=request.user,
                           **form.cleaned_data)
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("portal:contact-detail", pk=contact.pk)
    return render(request, "portal/contacts/detail.html", {
        "contact": contact, "form": form, "name": contact_name(contact),
        "phone": contact_phone(contact),
        "facts": [(key.replace("_", " "), value)
                  for key, value in sorted(contact_facts(contact).items())],
        "calls": call_list(tenant=tenant).filter(contact=contact)[:10],
    })


@require_POST
@portal_view()
def contact_forget(request, pk: int):
    contact = contact_get(tenant=request.member.tenant, pk=pk)
    memory_forget(tenant=request.member.tenant, contact=contact, actor=request.user)
    messages.success(request, "Forgotten: the name and everything remembered about this caller.")
    return redirect("portal:contact-detail", pk=contact.pk)
