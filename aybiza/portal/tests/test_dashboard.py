"""The live overview: today's numbers from stored calls, and the socket that says when to re-read
them (a member's own tenant only)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aybiza.asgi import application
from aybiza.core.events import (
    WEBHOOK_EVENT_TYPES,
    Event,
    EventType,
    deliver,
    subscribe,
    unsubscribe,
)
from aybiza.core.models import Role
from aybiza.core.services import membership_set
from aybiza.portal.tests.factories import make_call
from calls import live_state
from calls.dashboard import dashboard_today, masked
from calls.live_state import call_states_publish
from calls.models import Call
from calls.realtime.persistence import _Write, write_batch
from learning.services import call_analyze


def test_todays_numbers_come_from_the_stored_calls(db, tenant, agent, other_tenant):
    # given two finished calls today (one analysed as successful) and one still going
    now = timezone.now()  # not the factory's "5 minutes ago": that is yesterday at 00:02
    done = make_call(tenant=tenant, agent=agent, started_at=now)
    make_call(tenant=tenant, agent=agent, from_number="+15550001111", started_at=now)
    going = make_call(tenant=tenant, agent=agent, from_number="+15557654321", started_at=now)
    Call.objects.filter(pk=going.pk).update(outcome="", ended_at=None, status="in-progress",
                                            cost={})
    make_call(tenant=other_tenant)
    call_analyze(call_id=done.pk)
    write_batch([_Write(None, "state", {"tenant_id": tenant.pk, "call_id": going.pk,
                                        "state": live_state.THINKING})])
    # when
    today = dashboard_today(tenant=tenant)
    # then
    assert today.calls == 3 and today.ended == 2
    assert today.judged == 1 and today.success_rate in (0, 100)
    assert [(a.caller, a.state_label) for a in today.active] == [("•••• 4321", "Thinking")]
    assert today.latency_p50_ms is not None and today.latency_p95_ms >= today.latency_p50_ms
    assert today.cost_usd == round(2 * 0.0271, 4) and today.cost_per_call_usd == 0.0271
    assert (today.input_tokens, today.output_tokens, today.tokens_per_call) == (10800, 240, 5520)
    # and each stage of an answer, from the caller's last word
    assert [stage.label for stage in today.stages] == [
        "Words recognised", "First word from the model", "First audio synthesised",
        "On the line"]
    assert all(stage.p50_ms is not None for stage in today.stages)
    assert today.stages[-1].p95_ms == today.latency_p95_ms


def test_live_states_are_kept_for_pages_opened_later_and_pushed_to_open_ones(
        db, tenant, other_tenant, django_capture_on_commit_callbacks):
    seen: list[Event] = []
    subscribe(EventType.CALL_STATE)(seen.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            call_states_publish([
                {"tenant_id": tenant.pk, "call_id": 9_000_001, "state": live_state.SPEAKING},
                {"tenant_id": other_tenant.pk, "call_id": 9_000_002, "state": live_state.TOOL},
                {"tenant_id": tenant.pk, "call_id": 9_000_001, "state": live_state.LISTENING},
            ])
    finally:
        unsubscribe(seen.append)
    # the latest state of each call, and each tenant told only of its own calls
    assert live_state.call_states([9_000_001, 9_000_002, 9_000_003]) == {
        9_000_001: "listening", 9_000_002: "tool"}
    assert {e.tenant_id: e.payload["states"] for e in seen} == {
        tenant.pk: {"9000001": "listening"}, other_tenant.pk: {"9000002": "tool"}}
    assert len(seen) == 2
    assert EventType.CALL_STATE not in WEBHOOK_EVENT_TYPES  # many per call: live pages only


def test_a_number_is_masked_to_its_last_four_digits():
    assert masked("+15557654321") == "•••• 4321" and masked("") == "unknown"


def test_the_overview_fragment_is_the_live_part_only(db, owner_client):
    fragment = owner_client.get(reverse("portal:home") + "?fragment=live").content.decode()
    assert "active call" in fragment and "<html" not in fragment


def _cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return (b"cookie", f"{name}={client.cookies[name].value}".encode())


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_socket_says_when_the_members_tenant_changes(tenant, other_tenant,
                                                              django_user_model):
    user = await database_sync_to_async(django_user_model.objects.create_user)("watcher")
    await database_sync_to_async(membership_set)(tenant=tenant, user=user, role=Role.VIEWER)
    cookie = await database_sync_to_async(_cookie)(user)
    page = WebsocketCommunicator(application, "/ws/portal/events/",
                                 headers=[cookie, (b"origin", b"http://127.0.0.1")])
    assert (await page.connect())[0]
    # when events happen in another tenant, then in the member's own
    await database_sync_to_async(deliver)(Event(tenant_id=other_tenant.id,
                                                type=EventType.CALL_STARTED,
                                                payload={"call_id": 1}))
    await database_sync_to_async(deliver)(Event(tenant_id=tenant.id,
                                                type=EventType.CALL_STARTED,
                                                payload={"call_id": 2}))
    # then only the member's tenant's event arrives
    message = await page.receive_json_from(timeout=5)
    assert message["event"] == "call.started" and message["payload"] == {"call_id": 2}
    assert await page.receive_nothing(timeout=0.3)
    await page.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_socket_refuses_anonymous_pages_and_other_origins(tenant, django_user_model):
    anonymous = WebsocketCommunicator(application, "/ws/portal/events/",
                                      headers=[(b"origin", b"http://127.0.0.1")])
    assert not (await anonymous.connect())[0]
    user = await database_sync_to_async(django_user_model.objects.create_user)("owner2")
    await database_sync_to_async(membership_set)(tenant=tenant, user=user, role=Role.OWNER)
    cookie = await database_sync_to_async(_cookie)(user)
    elsewhere = WebsocketCommunicator(application, "/ws/portal/events/",
                                      headers=[cookie, (b"origin", b"https://evil.example")])
    assert not (await elsewhere.connect())[0]
