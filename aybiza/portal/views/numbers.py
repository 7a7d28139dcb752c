"""Phone numbers: register one, bind it to an agent, and the webhook URLs for Twilio."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from agents.selectors import agent_list, phone_number_get, phone_number_list
from agents.services import phone_number_create, phone_number_update
from aybiza.core.errors import ApplicationError
from aybiza.portal.access import portal_view
from aybiza.portal.forms import PhoneNumberForm, add_service_errors
from calls.twilio import public_url


def twilio_webhooks() -> dict[str, str]:
    """The URLs a number's Twilio voice configuration needs (the same for every number: the
    dialled number tells the webhook which tenant and agent answer)."""
    return {"voice": public_url(reverse("twilio-voice")),
            "status": public_url(reverse("twilio-status"))}


@portal_view()
def number_index(request):
    numbers = phone_number_list(tenant=request.member.tenant)
    return render(request, "portal/numbers/list.html",
                  {"numbers": numbers, "webhooks": twilio_webhooks()})


@portal_view(write_page=True)
def number_new(request):
    return _number_form_page(request, number=None)


@portal_view()
def number_edit(request, pk: int):
    number = phone_number_get(tenant=request.member.tenant, pk=pk)
    return _number_form_page(request, number=number)


def _number_form_page(request, *, number):
    tenant = request.member.tenant
    agents = agent_list(tenant=tenant).prefetch_related(None)
    initial = ({"e164": number.e164, "label": number.label, "agent": number.agent_id}
               if number else {})
    form = PhoneNumberForm(request.POST or None, agents=agents, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        agent_id = data["agent"].pk if data["agent"] else None
        try:
            if number is None:
                number = phone_number_create(tenant=tenant, e164=data["e164"], label=data["label"],
                                             agent_id=agent_id, actor=request.user)
            else:
                number = phone_number_update(tenant=tenant, number=number, e164=data["e164"],
                                             label=data["label"], agent_id=agent_id,
                                             actor=request.user)
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Saved {number.e164}.")
            return redirect("portal:numbers")
    return render(request, "portal/numbers/form.html",
                  {"form": form, "number": number, "webhooks": twilio_webhooks()})
