"""The dialer: one tick (Celery beat every few seconds, and at once when something changes)
moves every running campaign forward and places queued calls.

A tick: (1) releases dial claims a dead dialer left (calls/outbound.py: the lease), (2) settles
rows whose call ended without us hearing (a reconciled call), (3) turns due rows into queued
calls — inside the callee's calling window, not on the do-not-call list, within the campaign's
and the tenant's concurrency — and (4) dials queued calls within the calls-per-second of the
tenant and of the number they come from. Every step is a conditional UPDATE or a locked row, so
any number of workers may tick at once: a row becomes one call per attempt, a call is dialled
once. The pace is counted in the cache (Redis in production), so it holds across workers.
"""

from __future__ import annotations

import datetime
import math
import time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from aybiza.core.models import Tenant
from calls.call_variables import variables_open
from calls.campaign_models import Campaign, CampaignContact, CampaignStatus, ContactState
from calls.campaigns import LIVE_STATUSES, campaign_attempt_ended, campaign_finish_if_done
from calls.models import TERMINAL_STATUSES, Call, CallStatus, Direction
from calls.outbound import (
    OutboundTarget,
    dial_claims_release,
    outbound_call_queue,
    outbound_dial,
)
from memory.selectors import contact_phone

RATE_KEY_PREFIX = "dialer-rate:"


def dialer_tick(*, now: datetime.datetime | None = None,
                budget_s: float | None = None) -> dict[str, int]:
    """One pass of the dialer; returns what it did (for logs and tests)."""
    now = now or timezone.now()
    deadline = time.monotonic() + (budget_s if budget_s is not None
                                   else settings.DIALER_TICK_BUDGET_S)
    done = {"released": dial_claims_release(now=now), "settled": _settle_lost_attempts(),
            "queued": 0, "dialled": 0}
    for campaign in Campaign.objects.filter(status=CampaignStatus.RUNNING).select_related(
            "tenant", "agent", "from_number").order_by("id"):
        done["queued"] += _queue_due_rows(campaign, now)
        campaign_finish_if_done(campaign)
    done["dialled"] = _dial_queued(deadline)
    return done


# --- (2) rows whose call ended unheard ------------------------------------------------------------
def _settle_lost_attempts() -> int:
    """Rows still "calling" whose latest call is final (closed by reconciliation, or by a
    callback that could not reach the row)."""
    settled = 0
    rows = CampaignContact.objects.filter(state=ContactState.CALLING,
                                          calls__status__in=TERMINAL_STATUSES).distinct()
    for row in rows[:500]:
        latest = row.calls.order_by("-id").first()
        if latest is not None and latest.status in TERMINAL_STATUSES:
            campaign_attempt_ended(latest)
            settled += 1
    return settled


# --- (3) due rows → queued calls ------------------------------------------------------------------
def _queue_due_rows(campaign: Campaign, now: datetime.datetime) -> int:
    # One dialer at a time counts a tenant's free lines and fills them (others wait on the
    # tenant's row lock, then count again): concurrent ticks, on one campaign or on several of
    # the tenant's, cannot overshoot max_concurrent nor OUTBOUND_MAX_CONCURRENT_PER_TENANT.
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=campaign.tenant_id).first()
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
        return _fill_free_lines(campaign, now)


def _fill_free_lines(campaign: Campaign, now: datetime.datetime) -> int:
    slots = min(campaign.max_concurrent - _live_calls(campaign=campaign),
                settings.OUTBOUND_MAX_CONCURRENT_PER_TENANT - _live_calls(tenant=campaign.tenant))
    if slots <= 0:
        return 0
    queued = 0
    due = (campaign.rows.filter(state=ContactState.PENDING, next_attempt_at__lte=now)
           .select_related("contact").order_by("next_attempt_at", "row_number"))
    for row in due[:slots * 4]:  # some may wait for their window: look a little further
        if queued >= slots:
            break
        opens = next_window_open(campaign, row.time_zones.split(), now)
        if opens > now:
            CampaignContact.objects.filter(pk=row.pk, state=ContactState.PENDING).update(
                next_attempt_at=opens)
            continue
        if row.contact.do_not_call:
            CampaignContact.objects.filter(pk=row.pk, state=ContactState.PENDING).update(
                state=ContactState.DO_NOT_CALL, result="do_not_call", updated_at=now)
            continue
        queued += _queue_attempt(campaign, row, now)
    return queued


def _queue_attempt(campaign: Campaign, row: CampaignContact, now: datetime.datetime) -> int:
    """Row → one queued call, in one transaction with the row's claim (pending → calling)."""
    with transaction.atomic():
        claimed = CampaignContact.objects.filter(
            pk=row.pk, state=ContactState.PENDING, attempts=row.attempts,
        ).update(state=ContactState.CALLING, attempts=F("attempts") + 1, updated_at=now)
        if not claimed:
            return 0  # another worker took it
        row.attempts += 1
        outbound_call_queue(
            tenant=campaign.tenant, agent=campaign.agent,
            target=OutboundTarget(to=contact_phone(row.contact), from_number=campaign.from_number),
            variables=variables_open(campaign.tenant, row.variables_sealed), campaign_contact=row)
    return 1


def _live_calls(*, campaign: Campaign | None = None, tenant=None) -> int:
    calls = Call.objects.filter(direction=Direction.OUTBOUND, status__in=LIVE_STATUSES)
    if campaign is not None:
        return calls.filter(campaign_contact__campaign=campaign).count()
    return calls.filter(tenant=tenant).count()


def next_window_open(campaign: Campaign, zones: list[str],
                     now: datetime.datetime) -> datetime.datetime:
    """`now` when it is inside the campaign's window in every zone the callee may be in, else
    the first moment after it that is (checked to the quarter hour, a week ahead at most)."""
    zones = zones or ["UTC"]

    def open_at(moment: datetime.datetime) -> bool:
        return all(_inside(campaign, moment.astimezone(ZoneInfo(zone))) for zone in zones)

    if open_at(now):
        return now
    candidate = (now.replace(second=0, microsecond=0)
                 + datetime.timedelta(minutes=15 - now.minute % 15))
    for _ in range(7 * 24 * 4):
        if open_at(candidate):
            return candidate
        candidate += datetime.timedelta(minutes=15)
    return now + datetime.timedelta(days=7)


def _inside(campaign: Campaign, local: datetime.datetime) -> bool:
    return (local.weekday() in campaign.window_days
            and campaign.window_start <= local.time() < campaign.window_end)


# --- (4) queued calls → Twilio --------------------------------------------------------------------
def _dial_queued(deadline: float) -> int:
    dialled = 0
    queued = (Call.objects.filter(direction=Direction.OUTBOUND, status=CallStatus.QUEUED,
                                  dial_claimed_at__isnull=True)
              .select_related("tenant", "campaign_contact__campaign").order_by("id"))
    for call in queued[:500]:
        campaign = call.campaign_contact.campaign if call.campaign_contact else None
        if campaign is not None and campaign.status != CampaignStatus.RUNNING:
            continue  # paused: its queued calls wait (cancelled ones were cancelled)
        cps = campaign.calls_per_second if campaign else settings.OUTBOUND_CALLS_PER_SECOND
        if not _take_rate(call, cps, deadline):
            break
        dialled += outbound_dial(call)
    return dialled


def _take_rate(call: Call, cps: float, deadline: float) -> bool:
    """Wait for a slot under the from-number's and the tenant's calls per second; False when
    the tick's time is up first (the call is dialled by the next tick)."""
    limits = [(f"{RATE_KEY_PREFIX}n:{call.from_number}", cps),
              (f"{RATE_KEY_PREFIX}t:{call.tenant_id}",
               settings.OUTBOUND_CALLS_PER_SECOND_PER_TENANT)]
    while time.monotonic() < deadline:
        wait = max(_rate_wait(key, rate) for key, rate in limits)
        if wait <= 0:
            return True
        time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
    return False


def _rate_wait(key: str, rate: float) -> float:
    """Count one call in `key`'s current window; 0 when it fits, else seconds to wait. A rate
    below one a second counts over a longer window (0.5 → one call per 2 s)."""
    window_s = max(1, math.ceil(1 / rate)) if rate < 1 else 1
    allowed = max(1, int(rate * window_s))
    now = time.time()
    slot = int(now // window_s)
    bucket = f"{key}:{slot}"
    cache.add(bucket, 0, timeout=window_s + 5)
    try:
        count = cache.incr(bucket)
    except ValueError:  # evicted between add and incr
        cache.add(bucket, 1, timeout=window_s + 5)
        count = 1
    if count <= allowed:
        return 0.0
    return (slot + 1) * window_s - now + 0.001


def dialer_has_work() -> bool:
    """A campaign runs or a call waits to be dialled (the embedded clock keeps ticking)."""
    return (Campaign.objects.filter(status=CampaignStatus.RUNNING).exists()
            or Call.objects.filter(direction=Direction.OUTBOUND, status=CallStatus.QUEUED)
            .exists())
