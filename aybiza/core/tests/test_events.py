"""The event stream: after commit, to the tenant's group and to subscribers, from the services."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from aybiza.core.events import EventType, publish_event, subscribe, tenant_group, unsubscribe
from calls.services import call_finish, call_start


@pytest.fixture
def received():
    events = []

    def handler(event):
        events.append(event)

    subscribe(*EventType)(handler)
    yield events
    unsubscribe(handler)


@pytest.mark.django_db(transaction=True)
def test_event_is_delivered_only_after_commit(tenant, received):
    with transaction.atomic():
        publish_event(tenant=tenant, type=EventType.CALL_STARTED, payload={"call_id": 1})
        assert received == []
    assert [(e.type, e.tenant_id, e.payload) for e in received] == [
        (EventType.CALL_STARTED, tenant.pk, {"call_id": 1})]


@pytest.mark.django_db(transaction=True)
def test_rolled_back_transaction_publishes_nothing(tenant, received):
    with pytest.raises(RuntimeError), transaction.atomic():
        publish_event(tenant=tenant, type=EventType.CALL_STARTED, payload={})
        raise RuntimeError
    assert received == []


def test_unknown_event_type_is_refused(tenant):
    with pytest.raises(ValueError):
        publish_event(tenant=tenant, type="call.exploded", payload={})


@pytest.mark.django_db(transaction=True)
def test_failing_subscriber_does_not_break_the_publisher_or_others(tenant, received):
    def broken(event):
        raise RuntimeError("reader bug")

    subscribe(EventType.CALL_STARTED)(broken)
    try:
        publish_event(tenant=tenant, type=EventType.CALL_STARTED, payload={})
    finally:
        unsubscribe(broken)
    assert len(received) == 1


@pytest.mark.django_db(transaction=True)
def test_event_reaches_only_its_tenants_group(tenant, other_tenant):
    layer = get_channel_layer()
    mine = async_to_sync(layer.new_channel)()
    theirs = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(tenant_group(tenant.pk), mine)
    async_to_sync(layer.group_add)(tenant_group(other_tenant.pk), theirs)

    publish_event(tenant=tenant, type=EventType.CALL_COMPLETED, payload={"call_id": 7})

    message = async_to_sync(layer.receive)(mine)
    assert message["event"] == "call.completed" and message["payload"] == {"call_id": 7}
    assert message["tenant"] == tenant.pk and message["type"] == "event.message"
    with pytest.raises(TimeoutError):
        async_to_sync(asyncio.wait_for)(layer.receive(theirs), 0.2)


@pytest.mark.django_db(transaction=True)
def test_call_services_publish_started_and_one_completed(tenant, phone_number, received):
    call = call_start(tenant=tenant, phone_number=phone_number, call_sid="CA" + "1" * 32,
                      from_number="+15551230000", to_number=phone_number.e164)
    call_start(tenant=tenant, phone_number=phone_number, call_sid="CA" + "1" * 32,
               from_number="+15551230000", to_number=phone_number.e164)  # webhook retry
    call_finish(call=call, outcome="completed")
    call_finish(call=call, outcome="dropped")  # a second exit path

    assert [e.type for e in received] == [EventType.CALL_STARTED, EventType.CALL_COMPLETED]
    assert received[0].payload["call_id"] == call.pk
    assert received[1].payload["outcome"] == "completed"


@pytest.mark.django_db(transaction=True)
def test_a_refused_provider_key_recorded_by_a_call_is_published_for_alerting(
        tenant, phone_number, received):
    from calls.services import events_record

    call = call_start(tenant=tenant, phone_number=phone_number, call_sid="CA" + "a" * 32,
                      from_number="+14155552671", to_number=phone_number.e164)
    received.clear()

    events_record([
        {"call": call, "type": "barge_in", "payload": {"turn": 1}},
        {"call": call, "type": "provider_auth_failed",
         "payload": {"kind": "stt", "provider": "deepgram", "status": 401}},
    ])

    assert [(e.type, e.tenant_id, e.payload) for e in received] == [
        (EventType.PROVIDER_AUTH_FAILED, tenant.pk,
         {"call_id": call.pk, "kind": "stt", "provider": "deepgram", "status": 401})]
