"""Reads for calls. Every selector takes the tenant; webhooks look calls up by CallSid."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from aybiza.core.errors import NotFound
from aybiza.core.models import Tenant
from aybiza.core.selectors import parse_pk
from calls.campaign_models import CAMPAIGN_NAME_CONTEXT, Campaign, CampaignContact
from calls.models import AlertRule, Call, CallEvent, Turn
from compliance.crypto import decrypt_text_for_tenant


def call_list(
    *, tenant: Tenant, status: str | None = None, agent_id: int | None = None,
    number: str | None = None, call_sid: str | None = None,
    started_after: datetime | None = None, started_before: datetime | None = None,
    outcome: str | None = None, direction: str | None = None, text: str | None = None,
) -> QuerySet[Call]:
    """The tenant's calls, newest first; every filter is optional and they combine (AND)."""
    calls = Call.objects.filter(tenant=tenant).select_related("agent", "analysis")
    if status:
        calls = calls.filter(status=status)
    if agent_id is not None:
        calls = calls.filter(agent_id=agent_id)
    if number:
        # A number matches either side of the call.
        calls = calls.filter(Q(from_number=number) | Q(to_number=number))
    if call_sid:
        calls = calls.filter(call_sid=call_sid)
    if started_after:
        calls = calls.filter(started_at__gte=started_after)
    if started_before:
        calls = calls.filter(started_at__lt=started_before)
    if outcome:
        calls = calls.filter(outcome=outcome)
    if direction:
        calls = calls.filter(direction=direction)
    if text:
        # Stored turn text is the redacted text, so originals can never match.
        calls = calls.filter(Exists(Turn.objects.filter(call_id=OuterRef("pk"),
                                                        text__icontains=text)))
    return calls.order_by("-started_at", "-id")


def call_get(*, tenant: Tenant, pk) -> Call:
    """One call of the tenant with its turns and events, or NotFound."""
    call = None
    pk = parse_pk(pk)
    if pk is not None:
        call = (
            Call.objects.filter(tenant=tenant, pk=pk).select_related("agent", "analysis")
            .prefetch_related(
                Prefetch("turns", queryset=Turn.objects.order_by("index")),
                Prefetch("events", queryset=CallEvent.objects.order_by("at", "id")),
                "transfers",
            ).first()
        )
    if call is None:
        raise NotFound("Call not found.")
    return call


def call_for_twilio_callback(*, call_sid: str) -> Call | None:
    """The call a signed Twilio status callback names. The one lookup without a tenant: the
    callback carries none, and its CallSid (unique, issued by Twilio for a call we placed or
    answered) is what identifies the tenant's call."""
    return Call.objects.select_related("tenant", "agent").filter(call_sid=call_sid).first()


def call_for_stream(*, tenant_id: int, call_id: int) -> Call | None:
    """The call a media stream's signed token names, only within the token's tenant."""
    return (Call.objects.select_related("tenant", "agent")
            .filter(tenant_id=tenant_id, pk=call_id).first())


def alert_rule_list(*, tenant: Tenant) -> QuerySet[AlertRule]:
    return AlertRule.objects.filter(tenant=tenant).order_by("name", "id")


def alert_rule_get(*, tenant: Tenant, pk) -> AlertRule:
    pk = parse_pk(pk)
    rule = alert_rule_list(tenant=tenant).filter(pk=pk).first() if pk is not None else None
    if rule is None:
        raise NotFound("Alert rule not found.")
    return rule


def campaign_list(*, tenant: Tenant) -> QuerySet[Campaign]:
    return Campaign.objects.filter(tenant=tenant).select_related("from_number", "agent")


def campaign_get(*, tenant: Tenant, pk) -> Campaign:
    pk = parse_pk(pk)
    campaign = campaign_list(tenant=tenant).filter(pk=pk).first() if pk is not None else None
    if campaign is None:
        raise NotFound("Campaign not found.")
    return campaign


def campaign_rows(campaign: Campaign) -> QuerySet[CampaignContact]:
    return (campaign.rows.select_related("contact__tenant").order_by("row_number"))


def campaign_row_name(row: CampaignContact) -> str:
    return decrypt_text_for_tenant(row.contact.tenant, row.name_sealed,
                                   context=CAMPAIGN_NAME_CONTEXT) if row.name_sealed else ""
