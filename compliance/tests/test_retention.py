from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from aybiza.core.errors import ApplicationError
from calls.models import Call, CallEvent, Turn
from calls.services import event_record
from compliance.models import AuditEvent, chain_for
from compliance.services import audit_record, retention_enforce, retention_policy_set
from compliance.tasks import retention_enforce_all, retention_enforce_tenant

NOW = timezone.now()


def _aged(make_call, days: float, **kwargs) -> Call:
    call = make_call(started_at=NOW - timedelta(days=days), words=["hello", "hi there"],
                     **kwargs)
    event_record(call=call, type="dtmf", payload={"digit": "1"})
    return call


def test_enforce_deletes_exactly_what_each_policy_says(tenant, other_tenant, make_call, record,
                                                       django_capture_on_commit_callbacks):
    # given a policy and calls of several ages, each with a recording, turns and an event
    retention_policy_set(tenant=tenant, recordings_days=30, transcripts_days=60,
                         call_events_days=60, calls_days=365, tool_logs_days=90)
    ancient, old, recent, fresh = (_aged(make_call, d) for d in (400, 100, 45, 29.9))
    files = {call.pk: record(call) for call in (ancient, old, recent, fresh)}
    foreign = _aged(make_call, 400, owner=other_tenant)

    # when retention runs
    with django_capture_on_commit_callbacks(execute=True):
        counts = retention_enforce(tenant=tenant, now=NOW)

    # then the ancient call is gone with everything it had
    assert not Call.objects.filter(pk=ancient.pk).exists()
    assert not files[ancient.pk].exists()
    # the 100-day call keeps its row but loses recording, transcript and events
    old.refresh_from_db()
    assert not old.recording and not files[old.pk].exists()
    assert not Turn.objects.filter(call=old).exists()
    assert not CallEvent.objects.filter(call=old).exists()
    # the 45-day call loses only its recording; the fresh one keeps everything
    recent.refresh_from_db()
    assert not recent.recording and Turn.objects.filter(call=recent).count() == 2
    fresh.refresh_from_db()
    assert fresh.recording and files[fresh.pk].exists()
    assert Turn.objects.filter(call=fresh).count() == 2
    # another tenant's data is untouched
    assert Turn.objects.filter(call=foreign).count() == 2
    assert counts == {"calls": 1, "recordings": 2, "transcripts": 2, "call_events": 1,
                      "tool_logs": 0}


def test_each_deletion_is_audited_with_counts_only(tenant, make_call):
    retention_policy_set(tenant=tenant, transcripts_days=7)
    _aged(make_call, 10)

    retention_enforce(tenant=tenant, now=NOW)

    event = AuditEvent.objects.get(chain=chain_for(tenant.pk), action="retention.deleted")
    assert event.payload["kind"] == "transcripts" and event.payload["count"] == 2
    assert "hello" not in str(event.payload)


def test_without_a_policy_nothing_is_deleted(tenant, make_call):
    _aged(make_call, 4000)

    assert retention_enforce(tenant=tenant, now=NOW) == {}
    assert Turn.objects.count() == 2


def test_empty_periods_keep_that_data(tenant, make_call):
    retention_policy_set(tenant=tenant, recordings_days=1, transcripts_days=None)
    _aged(make_call, 4000)

    retention_enforce(tenant=tenant, now=NOW)

    assert Turn.objects.count() == 2


def test_invalid_policies_are_refused(tenant):
    with pytest.raises(ApplicationError) as error:
        retention_policy_set(tenant=tenant, calls_days=0, colour_days=3)

    assert set(error.value.extra["fields"]) == {"calls_days", "colour_days"}


def test_old_audit_events_are_pruned_and_the_chain_still_verifies(tenant):
    # given a chain whose first events are two years old
    for days in (800, 790, 10, 1):
        audit_record(tenant=tenant, action="test.event", at=NOW - timedelta(days=days))
    retention_policy_set(tenant=tenant, audit_events_days=365)

    # when retention prunes it
    retention_enforce(tenant=tenant, now=NOW)

    # then the old events are gone and the shortened chain verifies
    actions = list(AuditEvent.objects.filter(chain=chain_for(tenant.pk))
                   .values_list("seq", "action"))
    assert actions[0] == (3, "test.event")
    assert ("retention.audit_pruned" in [a for _, a in actions])
    call_command("verify_audit_chain", "--tenant", tenant.slug, stdout=StringIO())


def test_tasks_enforce_every_tenant_with_a_policy(tenant, other_tenant, make_call, monkeypatch):
    # run the fanned-out tasks here, as the embedded (eager) mode does
    monkeypatch.setattr(retention_enforce_tenant, "delay",
                        lambda tenant_id: retention_enforce_tenant.apply(args=[tenant_id]))
    retention_policy_set(tenant=tenant, transcripts_days=7)
    _aged(make_call, 10)
    _aged(make_call, 10, owner=other_tenant)

    assert retention_enforce_all() == 1

    assert Turn.objects.filter(tenant=tenant).count() == 0
    assert Turn.objects.filter(tenant=other_tenant).count() == 2
    assert retention_enforce_tenant(999_999) == {}


def test_retention_is_scheduled_daily_at_three_utc(db):
    task = PeriodicTask.objects.get(name="compliance.retention_enforce_all")

    assert task.enabled and task.task == "compliance.retention_enforce_all"
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == ("0", "3",
                                                                                   "UTC")


def test_callers_memory_is_forgotten_after_its_period(tenant, other_tenant):
    from compliance.services import retention_enforce, retention_policy_set
    from memory.models import Contact, MemoryFact
    from memory.services import contact_for_caller

    now = timezone.now()
    old = contact_for_caller(tenant=tenant, number="+15550142233")
    recent = contact_for_caller(tenant=tenant, number="+15550142244")
    theirs = contact_for_caller(tenant=other_tenant, number="+15550142233")
    Contact.objects.filter(pk__in=[old.pk, theirs.pk]).update(
        last_seen_at=now - timedelta(days=100))
    stale = MemoryFact.objects.create(tenant=tenant, contact=recent, key="last_booking",
                                      value_sealed="x")
    fresh = MemoryFact.objects.create(tenant=tenant, contact=recent, key="last_call",
                                      value_sealed="y")
    MemoryFact.objects.filter(pk=stale.pk).update(updated_at=now - timedelta(days=100))
    retention_policy_set(tenant=tenant, memory_days=90)

    counts = retention_enforce(tenant=tenant, now=now)

    assert counts["memory"] == 2  # the stale fact, the caller not heard from
    assert list(Contact.objects.filter(tenant=tenant)) == [recent]
    assert list(MemoryFact.objects.filter(tenant=tenant)) == [fresh]
    assert Contact.objects.filter(pk=theirs.pk).exists()  # another team's policy is its own
