"""Campaigns: CSV rows checked and reported, windows in the callee's time, the do-not-call list
at dial time, concurrency, retries with backoff, pause / resume / cancel, results as CSV."""

from __future__ import annotations

import csv
import datetime
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from agents.services import agent_create, phone_number_create
from agents.versions import agent_publish
from calls.campaign_models import Campaign, CampaignContact, CampaignStatus, ContactState
from calls.campaigns import campaign_create, campaign_import_csv, campaign_start
from calls.dialer import dialer_tick, next_window_open
from calls.models import Call, CallStatus, Outcome
from calls.outbound import outbound_answered_by, outbound_status
from calls.services import call_finish
from memory.services import contact_do_not_call_set

ALL_WEEK = [0, 1, 2, 3, 4, 5, 6]


@pytest.fixture
def twilio(fake_twilio_rest, settings):
    fake_twilio_rest.place_calls = False
    settings.PUBLIC_BASE_URL = "https://voice.example.test"
    return fake_twilio_rest


@pytest.fixture
def line(tenant):
    agent = agent_create(tenant=tenant, name="Reminders", timezone="America/New_York")
    agent_publish(tenant=tenant, agent=agent, actor=None, note="v1")
    return phone_number_create(tenant=tenant, e164="+15550100100", agent_id=agent.id)


def _campaign(tenant, line, **fields) -> Campaign:
    defaults = {"name": "Reminders", "legal_basis": "contract", "window_days": ALL_WEEK,
                "window_start": datetime.time(0, 0), "window_end": datetime.time(23, 59),
                "retry_delay_s": 60}
    return campaign_create(tenant=tenant, agent=line.agent, from_number=line,
                           **{**defaults, **fields})


def _csv(*rows: str, header: str = "phone,name,appointment") -> bytes:
    return "\n".join([header, *rows]).encode()


def _end(call: Call, status: str, **extra) -> None:
    outbound_status(call, call_sid=call.call_sid, status=status, duration_seconds=3, at=None,
                    **extra)


def test_csv_rows_are_checked_and_every_refusal_is_reported(tenant, line):
    contact_do_not_call_set(tenant=tenant, e164="+15550100555", do_not_call=True)
    campaign = _campaign(tenant, line)
    report = campaign_import_csv(tenant=tenant, campaign=campaign, data=_csv(
        "+15550100201,Ana Lima,Tuesday 10am",
        "not a number,Bo,",
        "+15550100201,Ana again,",
        "+15550100555,Dee,",
        ",Nobody,",
        "+15550100202," + "x" * 101 + ",",
        "+15550100203,Cy,Friday,extra cell",
        "+1 (555) 010-0204,Eve,",
    ))
    assert report["accepted"] == 2
    reasons = {row["row"]: row["reason"] for row in report["rejected"]}
    assert set(reasons) == {3, 4, 5, 6, 7, 8}
    assert "valid phone number" in reasons[3] or "E.164" in reasons[3]
    assert "already in the campaign (line 2)" in reasons[4]
    assert "do-not-call" in reasons[5]
    assert "No phone number" in reasons[6]
    assert "over 100 characters" in reasons[7]
    assert "More cells" in reasons[8]
    # the accepted rows: sealed names, variables, the callee's time zone
    rows = list(campaign.rows.order_by("row_number"))
    assert [row.row_number for row in rows] == [2, 9]
    assert "Ana" not in rows[0].name_sealed
    assert rows[0].time_zones  # from the number's area, or the agent's zone
    assert Campaign.objects.get().import_report["rejected_count"] == 6


@pytest.mark.parametrize(("data", "message"), [
    (b"name\nAna\n", "No phone column"),
    (b"\xff\xfe\x00p\x00h", "not UTF-8"),
    (b"phone\x00,name\n", "binary"),
    (b"phone,phone\n+15550100201,+15550100202\n", "same name"),
])
def test_a_file_that_is_not_a_usable_csv_is_a_clear_error(tenant, line, data, message):
    from aybiza.core.errors import ApplicationError

    campaign = _campaign(tenant, line)
    with pytest.raises(ApplicationError, match=message):
        campaign_import_csv(tenant=tenant, campaign=campaign, data=data)
    assert not campaign.rows.exists()


@pytest.mark.parametrize(("fields", "field"), [
    ({"calls_per_second": 0}, "calls_per_second"),
    ({"max_concurrent": 0}, "max_concurrent"),
    ({"window_start": datetime.time(18), "window_end": datetime.time(9)}, "window_end"),
    ({"window_days": []}, "window_days"),
    ({"window_days": [7]}, "window_days"),
    ({"max_attempts": 0}, "max_attempts"),
])
def test_bad_campaign_settings_are_refused(tenant, line, fields, field):
    from aybiza.core.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        _campaign(tenant, line, **fields)
    assert field in refused.value.extra["fields"]


def test_the_api_creates_uploads_starts_and_reports(api, tenant, line, twilio):
    response = api.post("/api/v1/campaigns/", {
        "name": "Reminders", "agent": line.agent_id, "from_number": line.id,
        "legal_basis": "contract", "window_days": ALL_WEEK, "window_start": "00:00",
        "window_end": "23:59", "calls_per_second": 5}, format="json")
    assert response.status_code == 201, response.content
    campaign_id = response.json()["id"]
    upload = io.BytesIO(_csv("+15550100201,Ana,Tue", "banana,Bo,"))
    upload.name = "people.csv"
    response = api.post(f"/api/v1/campaigns/{campaign_id}/rows/", {"file": upload},
                        format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["accepted"] == 1 and response.json()["rejected"][0]["row"] == 3
    assert api.post(f"/api/v1/campaigns/{campaign_id}/start/").status_code == 200
    dialer_tick(budget_s=1)
    detail = api.get(f"/api/v1/campaigns/{campaign_id}/").json()
    assert detail["status"] == "running"
    assert detail["progress"]["by_state"]["calling"] == 1
    assert detail["progress"]["attempts"] == 1
    rows = api.get(f"/api/v1/campaigns/{campaign_id}/rows/").json()["results"]
    assert rows[0]["phone_number"] == "+15550100201" and rows[0]["name"] == "Ana"
    # a second start is a conflict, not a second run
    assert api.post(f"/api/v1/campaigns/{campaign_id}/start/").status_code == 409


def test_concurrency_is_capped_and_each_row_is_dialled_once(tenant, line, twilio):
    campaign = _campaign(tenant, line, max_concurrent=2, calls_per_second=50)
    campaign_import_csv(tenant=tenant, campaign=campaign,
                        data=_csv(*[f"+155501003{i:02d},P{i}," for i in range(5)]))
    campaign_start(tenant=tenant, campaign=campaign)
    dialer_tick(budget_s=1)
    dialer_tick(budget_s=1)
    assert sum(twilio.dials.values()) == 2
    # when the two calls end, two more go out
    for call in Call.objects.filter(status=CallStatus.QUEUED).exclude(call_sid__startswith="p"):
        _end(call, CallStatus.COMPLETED)
    dialer_tick(budget_s=1)
    assert sum(twilio.dials.values()) == 4
    assert max(twilio.dials.values()) == 1


def test_the_tenants_cap_holds_across_its_campaigns(tenant, line, twilio, settings):
    settings.OUTBOUND_MAX_CONCURRENT_PER_TENANT = 3
    for name, first in (("A", 0), ("B", 10)):
        campaign = _campaign(tenant, line, name=name, max_concurrent=3, calls_per_second=50)
        campaign_import_csv(tenant=tenant, campaign=campaign, data=_csv(
            *[f"+155501004{first + i:02d},P{i}," for i in range(3)]))
        campaign_start(tenant=tenant, campaign=campaign)
    dialer_tick(budget_s=1)
    dialer_tick(budget_s=1)
    assert sum(twilio.dials.values()) == 3


def test_busy_and_unanswered_rows_are_retried_with_backoff_then_given_up(tenant, line, twilio):
    campaign = _campaign(tenant, line, max_attempts=2, retry_delay_s=60, calls_per_second=50)
    campaign_import_csv(tenant=tenant, campaign=campaign, data=_csv("+15550100201,Ana,"))
    campaign_start(tenant=tenant, campaign=campaign)
    dialer_tick(budget_s=1)
    _end(Call.objects.get(), CallStatus.BUSY)
    row = CampaignContact.objects.get()
    assert row.state == ContactState.PENDING and row.result == "busy" and row.attempts == 1
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=55)
    # not before the backoff
    dialer_tick(budget_s=1)
    assert Call.objects.count() == 1
    # after it: the second and last attempt, unanswered
    dialer_tick(now=timezone.now() + timedelta(seconds=61), budget_s=1)
    second = Call.objects.latest("id")
    assert second.pk != Call.objects.earliest("id").pk
    _end(second, CallStatus.NO_ANSWER)
    row.refresh_from_db()
    assert row.state == ContactState.FAILED and row.result == "no-answer" and row.attempts == 2
    assert Campaign.objects.get().status == CampaignStatus.COMPLETED
    assert twilio.dials["+15550100201"] == 2


def test_a_voicemail_and_an_answered_call_finish_their_rows(tenant, line, twilio):
    campaign = _campaign(tenant, line, calls_per_second=50)
    campaign_import_csv(tenant=tenant, campaign=campaign,
                        data=_csv("+15550100201,Ana,", "+15550100202,Bo,"))
    campaign_start(tenant=tenant, campaign=campaign)
    dialer_tick(budget_s=1)
    machine, person = Call.objects.order_by("id")
    outbound_answered_by(machine, call_sid=machine.call_sid, answered_by="machine_end_beep")
    call_finish(call=machine, outcome=Outcome.VOICEMAIL)
    _end(machine, CallStatus.COMPLETED)
    call_finish(call=person, outcome=Outcome.AGENT_ENDED)
    _end(person, CallStatus.COMPLETED)
    states = dict(CampaignContact.objects.values_list("row_number", "state"))
    assert states == {2: ContactState.VOICEMAIL, 3: ContactState.ANSWERED}
    assert Campaign.objects.get().status == CampaignStatus.COMPLETED
    # a repeated callback changes nothing
    _end(person, CallStatus.COMPLETED)
    assert Call.objects.count() == 2


def test_rows_outside_the_callees_window_wait_for_it(tenant, line, twilio):
    # a window that is closed now in New York
    now = timezone.now()
    local = now.astimezone(ZoneInfo("America/New_York"))
    start = (local + timedelta(hours=2)).time().replace(second=0, microsecond=0, minute=0)
    end = (local + timedelta(hours=3)).time().replace(second=0, microsecond=0, minute=0)
    if start >= end:  # the window would wrap midnight: shift to tomorrow's morning
        start, end = datetime.time(9), datetime.time(10)
    campaign = _campaign(tenant, line, window_start=start, window_end=end)
    campaign_import_csv(tenant=tenant, campaign=campaign, data=_csv("+12125550123,Ana,"))
    campaign_start(tenant=tenant, campaign=campaign)
    assert CampaignContact.objects.get().time_zones == "America/New_York"
    now = timezone.now()
    dialer_tick(now=now, budget_s=1)
    assert not twilio.dials
    row = CampaignContact.objects.get()
    opens = row.next_attempt_at.astimezone(ZoneInfo("America/New_York"))
    assert opens > now and start <= opens.time() < end
    assert next_window_open(campaign, ["America/New_York"], row.next_attempt_at) == \
        row.next_attempt_at


def test_a_number_added_to_the_list_after_the_upload_is_not_called(tenant, line, twilio):
    campaign = _campaign(tenant, line)
    campaign_import_csv(tenant=tenant, campaign=campaign, data=_csv("+15550100201,Ana,"))
    contact_do_not_call_set(tenant=tenant, e164="+15550100201", do_not_call=True)
    campaign_start(tenant=tenant, campaign=campaign)
    dialer_tick(budget_s=1)
    assert not twilio.dials
    assert CampaignContact.objects.get().state == ContactState.DO_NOT_CALL
    assert Campaign.objects.get().status == CampaignStatus.COMPLETED


def test_pause_holds_new_calls_resume_continues_cancel_stops(api, tenant, line, twilio):
    campaign = _campaign(tenant, line, max_concurrent=1, calls_per_second=50)
    campaign_import_csv(tenant=tenant, campaign=campaign,
                        data=_csv("+15550100201,Ana,", "+15550100202,Bo,", "+15550100203,Cy,"))
    campaign_start(tenant=tenant, campaign=campaign)
    dialer_tick(budget_s=1)
    assert api.post(f"/api/v1/campaigns/{campaign.pk}/pause/").status_code == 200
    _end(Call.objects.get(), CallStatus.COMPLETED)
    dialer_tick(budget_s=1)
    assert sum(twilio.dials.values()) == 1
    assert api.post(f"/api/v1/campaigns/{campaign.pk}/resume/").status_code == 200
    dialer_tick(budget_s=1)
    assert sum(twilio.dials.values()) == 2
    assert api.post(f"/api/v1/campaigns/{campaign.pk}/cancel/").status_code == 200
    dialer_tick(budget_s=1)
    assert sum(twilio.dials.values()) == 2
    states = sorted(CampaignContact.objects.values_list("state", flat=True))
    assert states == sorted([ContactState.ANSWERED, ContactState.CALLING,
                             ContactState.CANCELLED])


def test_results_export_as_csv_without_formulas(api, tenant, line, twilio):
    campaign = _campaign(tenant, line)
    campaign_import_csv(tenant=tenant, campaign=campaign,
                        data=_csv("+15550100201,=HYPERLINK(1),", "+15550100202,Bo,"))
    response = api.get(f"/api/v1/campaigns/{campaign.pk}/export/")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["phone_number"] for row in rows] == ["+15550100201", "+15550100202"]
    assert rows[0]["name"] == "'=HYPERLINK(1)"
    assert rows[1]["state"] == "pending"


def test_erasure_removes_campaign_rows_but_keeps_the_do_not_call_entry(tenant, line):
    from compliance.services.subjects import subject_erase
    from memory.models import Contact

    campaign = _campaign(tenant, line)
    campaign_import_csv(tenant=tenant, campaign=campaign,
                        data=_csv("+15550100201,Ana,", "+15550100202,Bo,"))
    contact_do_not_call_set(tenant=tenant, e164="+15550100201", do_not_call=True)
    subject_erase(tenant=tenant, phone_number="+15550100201", actor=None)
    subject_erase(tenant=tenant, phone_number="+15550100202", actor=None)
    assert not CampaignContact.objects.exists()
    kept = Contact.objects.get(tenant=tenant)
    assert kept.do_not_call and kept.name_sealed == ""


def test_retention_deletes_rows_settled_long_ago_only(tenant, other_tenant, line):
    from compliance.services import retention_enforce, retention_policy_set

    # given rows settled long ago, one still to call from then, and rows settled recently
    old, recent = _campaign(tenant, line), _campaign(tenant, line, name="Recent")
    for campaign in (old, recent):
        campaign_import_csv(tenant=tenant, campaign=campaign,
                            data=_csv("+15550100201,Ana,", "+15550100202,Bo,"))
        campaign.rows.filter(row_number=2).update(state=ContactState.ANSWERED)
    old.rows.update(updated_at=timezone.now() - timedelta(days=40))
    # when retention runs with 30 days for campaign rows
    retention_policy_set(tenant=tenant, campaign_rows_days=30)
    counts = retention_enforce(tenant=tenant, now=timezone.now())
    # then only the old campaign's settled row is gone
    assert counts["campaign_rows"] == 1
    assert list(old.rows.values_list("row_number", flat=True)) == [3]
    assert recent.rows.count() == 2


def test_rows_may_come_as_a_csv_body_or_json_and_nothing_else(api, tenant, line):
    campaign = _campaign(tenant, line)
    url = f"/api/v1/campaigns/{campaign.pk}/rows/"
    response = api.generic("POST", url, "phone\n+15550100201\n", content_type="text/csv")
    assert response.status_code == 201 and response.json()["accepted"] == 1
    response = api.post(url, {"csv": "phone\n+15550100202\n"}, format="json")
    assert response.status_code == 201 and response.json()["accepted"] == 1
    response = api.post(url, {"rows": []}, format="json")
    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]


def test_twilio_completing_before_the_stream_closes_waits_for_its_outcome(
        tenant, line, twilio, django_capture_on_commit_callbacks):
    campaign = _campaign(tenant, line, calls_per_second=50)
    campaign_import_csv(tenant=tenant, campaign=campaign, data=_csv("+15550100201,Ana,"))
    campaign_start(tenant=tenant, campaign=campaign)
    dialer_tick(budget_s=1)
    call = Call.objects.get()
    Call.objects.filter(pk=call.pk).update(stream_started_at=timezone.now())
    call.refresh_from_db()
    outbound_answered_by(call, call_sid=call.call_sid, answered_by="machine_end_beep")
    # Twilio's `completed` arrives while the agent's stream is still saving the call
    _end(call, CallStatus.COMPLETED)
    assert CampaignContact.objects.get().state == ContactState.CALLING
    # then the stream records the voicemail it left, and that settles the row
    with django_capture_on_commit_callbacks(execute=True):
        call_finish(call=Call.objects.get(), outcome=Outcome.VOICEMAIL)
    row = CampaignContact.objects.get()
    assert (row.state, row.attempts) == (ContactState.VOICEMAIL, 1)
