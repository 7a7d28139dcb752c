"""Outbound campaigns: create, upload rows from CSV (each row checked, refusals reported), start,
pause, resume, cancel, follow an attempt to its end (retry or done), export the results.

The dialer (calls/dialer.py) places the calls; this module owns the rows' states.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections import Counter
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from phonenumbers import timezone as number_timezones

from agents.models import Agent, AgentStatus, PhoneNumber
from agents.services import normalize_e164
from aybiza.core.errors import ApplicationError
from aybiza.core.events import EventType, publish_event
from aybiza.core.models import Tenant
from aybiza.core.tenancy import ensure_owned
from calls.call_variables import variable_name, variables_clean, variables_seal
from calls.campaign_models import (
    CAMPAIGN_NAME_CONTEXT,
    FINAL_CONTACT_STATES,
    Campaign,
    CampaignContact,
    CampaignStatus,
    ContactState,
)
from calls.models import Call, CallStatus, Outcome
from calls.selectors import campaign_row_name, campaign_rows
from compliance.crypto import encrypt_text_for_tenant
from compliance.services import audit_record
from memory.selectors import contact_phone
from memory.services import contact_ensure

MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
MAX_NAME_CHARS = 100
PHONE_COLUMNS = ("phone", "phone_number", "number", "to", "mobile")
NAME_COLUMN = "name"
# Twilio statuses after which a row is tried again (while attempts remain).
LIVE_STATUSES = (CallStatus.QUEUED, CallStatus.RINGING, CallStatus.IN_PROGRESS)
RETRY_STATUSES = frozenset({CallStatus.BUSY, CallStatus.NO_ANSWER})
MAX_REPORTED_REJECTIONS = 1000
CAMPAIGN_FIELDS = ("name", "legal_basis", "window_start", "window_end", "window_days",
                   "max_concurrent", "calls_per_second", "max_attempts", "retry_delay_s")


# --- campaigns ------------------------------------------------------------------------------------
def campaign_create(*, tenant: Tenant, agent: Agent, from_number: PhoneNumber, actor=None,
                    **fields: Any) -> Campaign:
    ensure_owned(tenant, agent)
    ensure_owned(tenant, from_number)
    campaign = Campaign(tenant=tenant, agent=agent, from_number=from_number,
                        **{name: value for name, value in fields.items()
                           if name in CAMPAIGN_FIELDS})
    _validate(campaign)
    campaign.save()
    audit_record(tenant=tenant, action="campaign.created", target=campaign, actor=actor,
                 payload={"legal_basis": campaign.legal_basis})
    return campaign


def _validate(campaign: Campaign) -> None:
    try:
        campaign.full_clean(exclude=["tenant", "agent", "from_number", "import_report"])
    except ValidationError as exc:
        raise ApplicationError("Invalid campaign.", extra={"fields": exc.message_dict}) from exc
    problems: dict[str, list[str]] = {}
    if campaign.window_start >= campaign.window_end:
        problems["window_end"] = ["Must be later than window_start (same day, callee's time)."]
    days = campaign.window_days
    if (not isinstance(days, list) or not days
            or any(not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6
                   for d in days)):
        problems["window_days"] = ["A non-empty list of weekdays, 0 = Monday … 6 = Sunday."]
    if problems:
        raise ApplicationError("Invalid campaign.", extra={"fields": problems})


def _transition(campaign: Campaign, *, allowed: tuple[str, ...], to: str, actor,
                action: str) -> Campaign:
    updated = Campaign.objects.filter(pk=campaign.pk, status__in=allowed).update(
        status=to, updated_at=timezone.now())
    campaign.refresh_from_db()
    if not updated:
        raise ApplicationError(f"A {campaign.status} campaign cannot be {action}.",
                               status_code=409, code="conflict")
    audit_record(tenant=campaign.tenant, action=f"campaign.{action}", target=campaign,
                 actor=actor)
    return campaign


def campaign_start(*, tenant: Tenant, campaign: Campaign, actor=None) -> Campaign:
    ensure_owned(tenant, campaign)
    if not campaign.rows.exists():
        raise ApplicationError("Upload the people to call first.", status_code=409,
                               code="conflict")
    if campaign.agent.status != AgentStatus.LIVE:
        raise ApplicationError("The agent is not live: publish it first.", status_code=409,
                               code="conflict")
    campaign = _transition(campaign, allowed=(CampaignStatus.DRAFT,), to=CampaignStatus.RUNNING,
                           actor=actor, action="started")
    Campaign.objects.filter(pk=campaign.pk).update(started_at=timezone.now())
    return campaign


def campaign_pause(*, tenant: Tenant, campaign: Campaign, actor=None) -> Campaign:
    """No new calls; calls already ringing or talking go on."""
    ensure_owned(tenant, campaign)
    return _transition(campaign, allowed=(CampaignStatus.RUNNING,), to=CampaignStatus.PAUSED,
                       actor=actor, action="paused")


def campaign_resume(*, tenant: Tenant, campaign: Campaign, actor=None) -> Campaign:
    ensure_owned(tenant, campaign)
    return _transition(campaign, allowed=(CampaignStatus.PAUSED,), to=CampaignStatus.RUNNING,
                       actor=actor, action="resumed")


def campaign_cancel(*, tenant: Tenant, campaign: Campaign, actor=None) -> Campaign:
    """No more calls: waiting rows are cancelled, and so are calls queued but not dialled."""
    ensure_owned(tenant, campaign)
    with transaction.atomic():
        campaign = _transition(
            campaign, allowed=(CampaignStatus.DRAFT, CampaignStatus.RUNNING,
                               CampaignStatus.PAUSED),
            to=CampaignStatus.CANCELLED, actor=actor, action="cancelled")
        now = timezone.now()
        campaign.rows.filter(state=ContactState.PENDING).update(
            state=ContactState.CANCELLED, result="cancelled", updated_at=now)
        queued = Call.objects.filter(campaign_contact__campaign=campaign,
                                     status=CallStatus.QUEUED, dial_claimed_at__isnull=True)
        rows = list(queued.values_list("campaign_contact_id", flat=True))
        queued.update(status=CallStatus.CANCELED, ended_at=now, dial_claimed_at=now)
        CampaignContact.objects.filter(pk__in=rows).update(
            state=ContactState.CANCELLED, result="cancelled", updated_at=now)
        Campaign.objects.filter(pk=campaign.pk).update(finished_at=now)
    _progress_event(campaign)
    return campaign


# --- rows -----------------------------------------------------------------------------------------
def callee_time_zones(e164: str, fallback: str) -> str:
    """The zones a number may ring in (a US number: its area code's), space-separated; the
    agent's zone when the number tells nothing."""
    zones = [zone for zone in number_timezones.time_zones_for_number(phonenumbers.parse(e164))
             if zone != number_timezones.UNKNOWN_TIMEZONE]
    return " ".join(zones[:4]) or fallback


def campaign_import_csv(*, tenant: Tenant, campaign: Campaign, data: bytes,
                        actor=None) -> dict[str, Any]:
    """Add the rows of a CSV (a `phone` column; `name`; any other column is a variable). Every
    refused row is reported with its line and why; none is dropped silently."""
    ensure_owned(tenant, campaign)
    if campaign.status in (CampaignStatus.CANCELLED, CampaignStatus.COMPLETED):
        raise ApplicationError(f"A {campaign.status} campaign takes no more rows.",
                               status_code=409, code="conflict")
    reader, columns = _csv_reader(data)
    seen = {row.contact_id: row.row_number for row in campaign.rows.only("contact_id",
                                                                         "row_number")}
    accepted: list[CampaignContact] = []
    rejected: list[dict[str, Any]] = []
    for record in reader:
        line = reader.line_num
        if len(accepted) + len(rejected) >= MAX_ROWS:
            raise ApplicationError(f"At most {MAX_ROWS} rows per upload.",
                                   extra={"fields": {"file": ["Too many rows."]}})
        try:
            row = _row(tenant, campaign, record, columns, line, seen)
        except ApplicationError as exc:
            rejected.append({"row": line, "reason": exc.message})
            continue
        seen[row.contact_id] = line
        accepted.append(row)
    CampaignContact.objects.bulk_create(accepted, batch_size=1000)
    _merged_report(campaign, accepted=len(accepted), rejected=rejected)
    audit_record(tenant=tenant, action="campaign.rows_imported", target=campaign, actor=actor,
                 payload={"accepted": len(accepted), "rejected": len(rejected)})
    return {"accepted": len(accepted), "rejected": rejected}


@dataclass(frozen=True)
class _Columns:
    """The CSV's headers as written that hold the phone number and the name (if any)."""

    phone: str
    name: str | None


def _csv_reader(data: bytes) -> tuple[csv.DictReader, _Columns]:
    if len(data) > MAX_CSV_BYTES:
        raise _file_error(f"The file is over {MAX_CSV_BYTES // (1024 * 1024)} MB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _file_error("The file is not UTF-8 text (save the CSV as UTF-8).") from None
    if "\0" in text:
        raise _file_error("The file is not a CSV (it holds binary data).")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        headers = reader.fieldnames or []
    except csv.Error as exc:
        raise _file_error(f"Unreadable CSV header: {exc}.") from None
    names = {h: variable_name(h) for h in headers if h is not None}
    phone_column = next((h for h, n in names.items() if n in PHONE_COLUMNS), None)
    if phone_column is None:
        raise _file_error("No phone column: the first line must name the columns, one of them "
                          f"{', '.join(PHONE_COLUMNS)}.")
    if len(set(names.values())) != len([h for h in headers if h is not None]):
        raise _file_error("Two columns have the same name.")
    name_column = next((h for h, n in names.items() if n == NAME_COLUMN), None)
    return reader, _Columns(phone=phone_column, name=name_column)


def _row(tenant: Tenant, campaign: Campaign, record: dict, columns: _Columns, line: int,
         seen: dict[int, int]) -> CampaignContact:
    if None in record:  # more cells than headers
        raise ApplicationError("More cells than the header has columns.")
    phone = (record.get(columns.phone) or "").strip()
    if not phone:
        raise ApplicationError("No phone number.")
    try:
        e164 = normalize_e164(phone, field="phone")
    except ApplicationError:
        raise ApplicationError("Not a valid phone number: use the international form with the "
                               "country code, e.g. +14155550123.") from None
    contact = contact_ensure(tenant=tenant, e164=e164)
    if contact.do_not_call:
        raise ApplicationError("The number is on the do-not-call list.")
    if contact.pk in seen:
        raise ApplicationError(f"The number is already in the campaign (line {seen[contact.pk]}).")
    name = " ".join((record.get(columns.name) or "").split()) if columns.name else ""
    if len(name) > MAX_NAME_CHARS:
        raise ApplicationError(f"The name is over {MAX_NAME_CHARS} characters.")
    variables = variables_clean(
        {variable_name(key): value for key, value in record.items()
         if key not in (columns.phone, columns.name) and value and value.strip()
         and variable_name(key)})
    if name:
        variables = {"name": name, **variables}
    return CampaignContact(
        tenant=tenant, campaign=campaign, contact=contact, row_number=line,
        name_sealed=(encrypt_text_for_tenant(tenant, name, context=CAMPAIGN_NAME_CONTEXT)
                     if name else ""),
        variables_sealed=variables_seal(tenant, variables),
        time_zones=callee_time_zones(e164, campaign.agent.timezone or "UTC"))


def _merged_report(campaign: Campaign, *, accepted: int,
                   rejected: list[dict[str, Any]]) -> dict[str, Any]:
    report = dict(campaign.import_report or {})
    report["accepted"] = report.get("accepted", 0) + accepted
    kept = [*report.get("rejected", []), *rejected]
    report["rejected_count"] = report.get("rejected_count", 0) + len(rejected)
    report["rejected"] = kept[:MAX_REPORTED_REJECTIONS]
    Campaign.objects.filter(pk=campaign.pk).update(import_report=report,
                                                   updated_at=timezone.now())
    campaign.import_report = report
    return report


def _file_error(message: str) -> ApplicationError:
    return ApplicationError(message, extra={"fields": {"file": [message]}})


# --- attempts -------------------------------------------------------------------------------------
def campaign_attempt_ended(call: Call) -> None:
    """A campaign call reached a final status: the row is done, or waits for its retry."""
    if call.campaign_contact_id is None:
        return
    with transaction.atomic():
        row = (CampaignContact.objects.select_for_update().select_related("campaign")
               .filter(pk=call.campaign_contact_id).first())
        if row is None or row.state != ContactState.CALLING:
            return  # already settled (a repeated callback)
        if row.calls.filter(pk__gt=call.pk).exists():
            return  # an older attempt's late callback
        settled = _settle(row, call)
        if settled is None:
            return  # the call's stream is still closing: its end settles the row
        row.state, row.result = settled
        if row.state == ContactState.PENDING:
            delay = row.campaign.retry_delay_s * 2 ** max(0, row.attempts - 1)
            row.next_attempt_at = timezone.now() + datetime.timedelta(seconds=delay)
        row.save(update_fields=["state", "result", "next_attempt_at", "updated_at"])
    campaign_finish_if_done(row.campaign)
    _progress_event(row.campaign)


def _settle(row: CampaignContact, call: Call) -> tuple[str, str] | None:
    """(state, result) of a row after `call`, its latest attempt; None while it cannot be told
    yet: Twilio says completed, but the media stream (which knows whether a voicemail was left)
    has not recorded how it ended."""
    status = call.status
    if status == CallStatus.COMPLETED and call.stream_started_at and not call.outcome:
        return None
    machine = call.answered_by.startswith("machine") or call.answered_by == "fax"
    if status == CallStatus.COMPLETED and call.outcome == Outcome.VOICEMAIL:
        return ContactState.VOICEMAIL, Outcome.VOICEMAIL
    if status == CallStatus.COMPLETED and not machine:
        return ContactState.ANSWERED, call.outcome or "completed"
    retry = status in RETRY_STATUSES or (status == CallStatus.COMPLETED and machine)
    result = "machine" if status == CallStatus.COMPLETED else status
    if retry and row.attempts < row.campaign.max_attempts:
        return ContactState.PENDING, result
    if status == CallStatus.CANCELED:
        return ContactState.CANCELLED, result
    return ContactState.FAILED, result


def campaign_finish_if_done(campaign: Campaign) -> bool:
    """A running campaign with no row left to call is completed."""
    if campaign.rows.exclude(state__in=FINAL_CONTACT_STATES).exists():
        return False
    done = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.RUNNING).update(
        status=CampaignStatus.COMPLETED, finished_at=timezone.now(), updated_at=timezone.now())
    if done:
        audit_record(tenant=campaign.tenant, action="campaign.completed", target=campaign)
    return bool(done)


def campaign_progress(campaign: Campaign) -> dict[str, Any]:
    """Rows per state, attempts made and calls live now (the API and the live dashboard)."""
    counts = Counter({state: 0 for state in ContactState.values})
    for state, rows in (campaign.rows.order_by().values_list("state")
                        .annotate(rows=Count("id")).values_list("state", "rows")):
        counts[state] += rows
    attempts = campaign.rows.aggregate(total=Sum("attempts"))["total"] or 0
    live = Call.objects.filter(campaign_contact__campaign=campaign, status__in=LIVE_STATUSES)
    return {"rows": sum(counts.values()), "by_state": dict(counts), "attempts": attempts,
            "live_calls": live.count()}


def _progress_event(campaign: Campaign) -> None:
    campaign.refresh_from_db(fields=["status"])
    publish_event(tenant=campaign.tenant_id, type=EventType.CAMPAIGN_PROGRESS,
                  payload={"campaign_id": campaign.pk, "status": campaign.status,
                           **campaign_progress(campaign)})


EXPORT_COLUMNS = ["row", "phone_number", "name", "state", "attempts", "result", "last_call_sid",
                  "last_status", "answered_by", "outcome", "duration_seconds", "last_call_at"]


def campaign_export_csv(campaign: Campaign, *, actor=None) -> str:
    """Every row with its result and last attempt, as CSV (personal data: the export is
    audited)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    last_calls = {call.campaign_contact_id: call for call in
                  Call.objects.filter(campaign_contact__campaign=campaign).order_by("id")}
    for row in campaign_rows(campaign):
        call = last_calls.get(row.pk)
        writer.writerow([
            row.row_number, contact_phone(row.contact), _csv_safe(campaign_row_name(row)),
            row.state, row.attempts, row.result,
            *((call.call_sid, call.status, call.answered_by, call.outcome,
               call.duration_seconds if call.duration_seconds is not None else "",
               call.started_at.isoformat()) if call else [""] * 6)])
    audit_record(tenant=campaign.tenant, action="campaign.exported", target=campaign,
                 actor=actor)
    return out.getvalue()


def _csv_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection: "=HYPERLINK(...)")."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def campaign_rows_retention_enforce(tenant: Tenant, cutoff: datetime.datetime) -> int:
    """The tenant's `campaign_rows_days`: rows settled before `cutoff` go (their names and
    variables with them); rows still to be called stay."""
    rows = CampaignContact.objects.filter(tenant=tenant, updated_at__lt=cutoff,
                                          state__in=FINAL_CONTACT_STATES)
    return rows.delete()[1].get(CampaignContact._meta.label, 0)
