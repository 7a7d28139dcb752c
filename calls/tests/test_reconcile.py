"""Calls do not stay "in progress" for ever when a stream or a status callback is lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import Call, CallStatus, Outcome
from calls.services import call_finish, call_start, call_update_status, calls_reconcile
from calls.tasks import reconcile_statuses

pytestmark = pytest.mark.django_db


def _call(tenant, phone_number, sid: str, *, started_ago_s: int = 0) -> Call:
    call = call_start(tenant=tenant, phone_number=phone_number, call_sid=sid,
                      from_number="+14155552671", to_number=phone_number.e164)
    call_update_status(call=call, status=CallStatus.IN_PROGRESS)
    Call.objects.filter(pk=call.pk).update(
        started_at=timezone.now() - timedelta(seconds=started_ago_s))
    call.refresh_from_db()
    return call


def test_the_end_of_the_stream_ends_the_call_without_waiting_for_twilio(tenant, phone_number):
    call = _call(tenant, phone_number, "CA" + "1" * 32)

    call_finish(call=call, outcome=Outcome.CALLER_HUNG_UP)

    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED and call.ended_at is not None
    # and Twilio's callback, when it comes, still sets its own duration
    call_update_status(call=call, status=CallStatus.COMPLETED, duration_seconds=42)
    call.refresh_from_db()
    assert call.duration_seconds == 42


def test_reconcile_closes_calls_that_ended_or_cannot_be_live_and_leaves_live_ones(
        tenant, phone_number):
    # given: one call with an outcome but still "in progress" (from before the fix), one that
    # started 6 hours ago and never heard of again, and one live call of a minute
    ended = _call(tenant, phone_number, "CA" + "2" * 32)
    Call.objects.filter(pk=ended.pk).update(outcome=Outcome.AGENT_ENDED)
    lost = _call(tenant, phone_number, "CA" + "3" * 32, started_ago_s=6 * 3600)
    live = _call(tenant, phone_number, "CA" + "4" * 32, started_ago_s=60)

    # when the job runs (no Twilio account configured)
    assert calls_reconcile() == 2

    # then the first two are closed, each with the right outcome, and the live one is untouched
    statuses = dict(Call.objects.values_list("call_sid", "status"))
    outcomes = dict(Call.objects.values_list("call_sid", "outcome"))
    assert statuses[ended.call_sid] == statuses[lost.call_sid] == CallStatus.COMPLETED
    assert outcomes[ended.call_sid] == Outcome.AGENT_ENDED
    assert outcomes[lost.call_sid] == Outcome.DISCONNECTED
    assert statuses[live.call_sid] == CallStatus.IN_PROGRESS
    assert calls_reconcile() == 0  # idempotent


@pytest.mark.parametrize(("twilio_says", "status"), [
    ("no-answer", CallStatus.NO_ANSWER), ("in-progress", CallStatus.IN_PROGRESS)])
def test_reconcile_asks_twilio_when_it_can(tenant, phone_number, twilio_says, status):
    lost = _call(tenant, phone_number, "CA" + "5" * 32, started_ago_s=6 * 3600)
    asked: list[str] = []

    calls_reconcile(fetch_status=lambda sid: asked.append(sid) or twilio_says)

    lost.refresh_from_db()
    assert asked == [lost.call_sid]
    assert lost.status == status


def test_reconcile_closes_from_our_side_when_twilio_cannot_be_reached(tenant, phone_number):
    lost = _call(tenant, phone_number, "CA" + "6" * 32, started_ago_s=6 * 3600)

    def unreachable(sid: str) -> str:
        raise ConnectionError("twilio down")

    assert calls_reconcile(fetch_status=unreachable) == 1
    lost.refresh_from_db()
    assert (lost.status, lost.outcome) == (CallStatus.COMPLETED, Outcome.DISCONNECTED)


def test_the_job_is_scheduled_every_five_minutes(tenant, phone_number):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="calls.reconcile_statuses")
    assert task.enabled and (task.interval.every, task.interval.period) == (5, "minutes")
    _call(tenant, phone_number, "CA" + "7" * 32, started_ago_s=6 * 3600)
    assert reconcile_statuses() == 1
