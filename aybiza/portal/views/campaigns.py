"""Campaigns: the agent calls a list of people. Create one with its CSV, follow it live, start,
pause, resume or cancel it, download the results; and the do-not-call list."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from agents.models import AgentStatus
from agents.selectors import agent_get, agent_list, phone_number_get, phone_number_list
from aybiza.core.errors import ApplicationError
from aybiza.portal.access import portal_view
from aybiza.portal.forms import CampaignForm, CampaignRowsForm, DoNotCallForm, add_service_errors
from calls.campaign_models import CampaignStatus, ContactState
from calls.campaigns import (
    campaign_cancel,
    campaign_create,
    campaign_export_csv,
    campaign_import_csv,
    campaign_pause,
    campaign_progress,
    campaign_resume,
    campaign_start,
)
from calls.selectors import campaign_get, campaign_list, campaign_row_name, campaign_rows
from calls.tasks import dialer_kick
from compliance.selectors import normalize_phone
from memory.selectors import contact_get, contact_list, contact_phone
from memory.services import contact_do_not_call_set

ROWS_PER_PAGE = 50
CONTROLS = {"start": (campaign_start, "Started: the first calls go out now."),
            "pause": (campaign_pause, "Paused: calls in progress finish, no new ones start."),
            "resume": (campaign_resume, "Resumed."),
            "cancel": (campaign_cancel, "Cancelled: nobody else will be called.")}
# Progress bar segments, in order (state, label, css modifier).
SEGMENTS = [(ContactState.ANSWERED, "Answered", "ok"), (ContactState.VOICEMAIL, "Voicemail",
                                                          "info"),
            (ContactState.CALLING, "Calling now", "live"),
            (ContactState.FAILED, "Not reached", "bad"),
            (ContactState.DO_NOT_CALL, "Do not call", "muted"),
            (ContactState.CANCELLED, "Cancelled", "muted"),
            (ContactState.PENDING, "Waiting", "idle")]


# A row's last result (a Twilio status or the call's outcome), as a person says it.
RESULTS = {"agent_ended": "Talked", "caller_hung_up": "Talked (they hung up)",
           "transferred": "Transferred", "completed": "Talked", "voicemail": "Voicemail left",
           "machine": "Answering machine", "busy": "Busy", "no-answer": "No answer",
           "failed": "Could not connect", "canceled": "Cancelled", "cancelled": "Cancelled",
           "do_not_call": "On the do-not-call list", "no_input": "Silent",
           "disconnected": "Line dropped", "error": "Error on our side"}
DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def days_label(days: list[int]) -> str:
    """[0, 1, 2, 3, 4] → "Mon–Fri"; [0, 2] → "Mon, Wed"; all seven → "every day"."""
    days = sorted(set(days))
    if len(days) == 7:
        return "every day"
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        return f"{DAY_NAMES[days[0]]}–{DAY_NAMES[days[-1]]}"
    return ", ".join(DAY_NAMES[day] for day in days)


def _progress(campaign) -> dict:
    progress = campaign_progress(campaign)
    total = progress["rows"] or 1
    segments, offset = [], 0.0
    for state, label, css in SEGMENTS:  # drawn as SVG rectangles (the CSP allows no styles)
        count = progress["by_state"][state]
        if count:
            width = 100 * count / total
            segments.append({"state": state, "label": label, "css": css, "count": count,
                             "x": round(offset, 2), "width": round(width, 2)})
            offset += width
    progress["segments"] = segments
    progress["done"] = progress["rows"] - progress["by_state"][ContactState.PENDING] \
        - progress["by_state"][ContactState.CALLING]
    return progress


@portal_view()
def campaign_index(request):
    tenant = request.member.tenant
    campaigns = [{"campaign": c, "progress": _progress(c)} for c in campaign_list(tenant=tenant)]
    return render(request, "portal/campaigns/list.html", {"campaigns": campaigns})


@portal_view(write_page=True)
def campaign_new(request):
    tenant = request.member.tenant
    agents = agent_list(tenant=tenant).filter(status=AgentStatus.LIVE)
    numbers = phone_number_list(tenant=tenant)
    form = CampaignForm(request.POST or None, request.FILES or None, agents=agents,
                        numbers=numbers)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = campaign_create(
                tenant=tenant, agent=agent_get(tenant=tenant, pk=form.cleaned_data["agent"]),
                from_number=phone_number_get(tenant=tenant,
                                             pk=form.cleaned_data["from_number"]),
                actor=request.user, **form.service_fields())
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            upload = form.cleaned_data.get("people")
            if upload is not None:
                _import(request, campaign, upload)
            return redirect("portal:campaign-detail", campaign.pk)
    return render(request, "portal/campaigns/new.html",
                  {"form": form, "has_agents": agents.exists(), "has_numbers": numbers.exists()})


@portal_view()
def campaign_detail(request, pk: int):
    campaign = campaign_get(tenant=request.member.tenant, pk=pk)
    page = Paginator(campaign_rows(campaign), ROWS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"row": row, "name": campaign_row_name(row), "phone": contact_phone(row.contact),
             "result": RESULTS.get(row.result, row.result)} for row in page]
    report = campaign.import_report or {}
    return render(request, "portal/campaigns/detail.html", {
        "campaign": campaign, "progress": _progress(campaign), "page": page, "rows": rows,
        "rejected": report.get("rejected", []), "rejected_count": report.get("rejected_count", 0),
        "rows_form": CampaignRowsForm(), "days": days_label(campaign.window_days),
        "live": campaign.status == CampaignStatus.RUNNING,
        "can_add_rows": campaign.status not in (CampaignStatus.CANCELLED,
                                                CampaignStatus.COMPLETED)})


@require_POST
@portal_view(write_page=True)
def campaign_control(request, pk: int):
    tenant = request.member.tenant
    campaign = campaign_get(tenant=tenant, pk=pk)
    control = CONTROLS.get(request.POST.get("action", ""))
    if control is None:
        messages.error(request, "Unknown action.")
        return redirect("portal:campaign-detail", campaign.pk)
    service, done = control
    try:
        service(tenant=tenant, campaign=campaign, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        dialer_kick()
        messages.success(request, done)
    return redirect("portal:campaign-detail", campaign.pk)


@require_POST
@portal_view(write_page=True)
def campaign_add_rows(request, pk: int):
    campaign = campaign_get(tenant=request.member.tenant, pk=pk)
    form = CampaignRowsForm(request.POST, request.FILES)
    if form.is_valid():
        _import(request, campaign, form.cleaned_data["people"])
    else:
        messages.error(request, "Choose a CSV file to upload.")
    return redirect("portal:campaign-detail", campaign.pk)


@portal_view()
def campaign_export(request, pk: int):
    campaign = campaign_get(tenant=request.member.tenant, pk=pk)
    response = HttpResponse(campaign_export_csv(campaign, actor=request.user),
                            content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}.csv"'
    return response


def _import(request, campaign, upload) -> None:
    try:
        report = campaign_import_csv(tenant=request.member.tenant, campaign=campaign,
                                     data=upload.read(), actor=request.user)
    except ApplicationError as exc:
        messages.error(request, f"The file was not added: {exc.message}")
        return
    refused = len(report["rejected"])
    text = f"Added {report['accepted']} {'person' if report['accepted'] == 1 else 'people'}."
    if refused:
        messages.warning(request, f"{text} {refused} row{'s' if refused != 1 else ''} refused: "
                                  "see “Rows not added” below.")
    else:
        messages.success(request, text)


@portal_view()
def do_not_call(request):
    tenant = request.member.tenant
    form = DoNotCallForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            e164 = normalize_phone(form.cleaned_data["phone_number"])
            contact_do_not_call_set(tenant=tenant, e164=e164, do_not_call=True,
                                    actor=request.user)
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{e164} will not be called.")
            return redirect("portal:do-not-call")
    entries = [{"contact": c, "phone": contact_phone(c)}
               for c in contact_list(tenant=tenant).filter(do_not_call=True)
               .order_by("-do_not_call_since")]
    return render(request, "portal/campaigns/do_not_call.html",
                  {"form": form, "entries": entries})


@require_POST
@portal_view(write_page=True)
def do_not_call_remove(request, pk: int):
    tenant = request.member.tenant
    contact = contact_get(tenant=tenant, pk=pk)
    if contact.do_not_call:
        phone = contact_phone(contact)
        contact_do_not_call_set(tenant=tenant, e164=phone, do_not_call=False,
                                actor=request.user)
        messages.success(request, f"{phone} may be called again.")
    return redirect("portal:do-not-call")
