"""One call: transcript as a conversation, latency bars, tool runs, events, cost."""

from __future__ import annotations

import pytest
from django.urls import reverse

from aybiza.portal.tests.factories import make_call

pytestmark = pytest.mark.django_db


def test_shows_the_whole_call_in_bounded_queries(owner_client, tenant, agent,
                                                 django_assert_max_num_queries):
    call = make_call(tenant=tenant, agent=agent)

    with django_assert_max_num_queries(9):  # whatever its size (transfers: one prefetch)
        response = owner_client.get(reverse("portal:call-detail", args=[call.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    # the conversation, with the redaction marker and what it stood for (never the original)
    assert "Hi, what are your opening hours?" in body
    assert "[PHONE]" in body and "Redacted: phone" in body
    # each agent turn's latency as a bar with its stages, readable by screen readers
    assert "730 ms until the caller heard the agent: Speech to text 180 ms, Language model " \
           "340 ms, Speech synthesis 170 ms, First frame sent 40 ms" in body
    # tool runs, events, cost
    assert "book_appointment" in body and "212 ms" in body
    assert "barge_in" in body and "dtmf" in body
    assert "0.0271" in body and "bedrock" in body


def test_a_call_with_no_turns_or_cost_shows_empty_states(owner_client, tenant):
    call = make_call(tenant=tenant, conversation=[], with_extras=False)

    body = owner_client.get(reverse("portal:call-detail", args=[call.pk])).content.decode()

    assert "Nothing was said on this call." in body
    assert "No tools ran on this call." in body
    assert "No cost recorded" in body


def test_another_tenants_call_is_not_found(owner_client, other_tenant):
    call = make_call(tenant=other_tenant)

    response = owner_client.get(reverse("portal:call-detail", args=[call.pk]))

    assert response.status_code == 404
    assert b"opening hours" not in response.content


def test_a_viewer_may_read_calls(viewer_client, tenant):
    call = make_call(tenant=tenant)

    assert viewer_client.get(reverse("portal:call-detail", args=[call.pk])).status_code == 200
    assert viewer_client.get(reverse("portal:calls")).status_code == 200


def test_the_call_page_and_list_show_what_happened(owner_client, tenant, agent):
    from learning.services import call_analyze

    call = make_call(tenant=tenant, agent=agent)
    detail_url = reverse("portal:call-detail", args=[call.pk])
    assert "not ready yet" in owner_client.get(detail_url).content.decode()
    call_analyze(call_id=call.pk)
    page = owner_client.get(detail_url).content.decode()
    assert "What happened" in page and "The caller asked" in page
    assert "Analysed by the offline analyser" in page
    listing = owner_client.get(reverse("portal:calls")).content.decode()
    assert "The caller asked" in listing


def test_a_live_call_page_follows_the_call_and_serves_its_transcript_fragment(
        owner_client, tenant, agent):
    from calls.models import Call, CallStatus, Role
    from calls.services import turns_save

    call = Call.objects.create(tenant=tenant, agent=agent, call_sid="CA" + "5" * 32,
                               from_number="+15557654321", to_number="+15550100000",
                               status=CallStatus.IN_PROGRESS)
    turns_save([{"call": call, "index": 0, "role": Role.AGENT, "text": "Hello, Acme Dental."}])

    page = owner_client.get(reverse("portal:call-detail", args=[call.pk])).content.decode()
    fragment = owner_client.get(reverse("portal:call-detail", args=[call.pk]),
                                {"fragment": "transcript"}).content.decode()

    assert 'id="call-live"' in page and "portal/call-live.js" in page
    assert fragment.lstrip().startswith('<section class="card"') and 'id="transcript"' in fragment
    assert "Hello, Acme Dental." in fragment and "<html" not in fragment


def test_an_ended_call_page_does_not_follow_anything(owner_client, tenant, agent):
    call = make_call(tenant=tenant, agent=agent)
    page = owner_client.get(reverse("portal:call-detail", args=[call.pk])).content.decode()
    assert 'id="call-live"' not in page and "call-live.js" not in page


def test_each_saved_turn_is_announced_to_live_pages_by_ids_only(
        tenant, agent, django_capture_on_commit_callbacks):
    from aybiza.core.events import WEBHOOK_EVENT_TYPES, EventType, subscribe, unsubscribe
    from calls.models import Call, CallStatus, Role
    from calls.services import turns_save

    seen = []
    subscribe(EventType.TURN_COMPLETED)(seen.append)
    call = Call.objects.create(tenant=tenant, agent=agent, call_sid="CA" + "6" * 32,
                               status=CallStatus.IN_PROGRESS)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            turns_save([{"call": call, "index": 0, "role": Role.CALLER,
                         "text": "my card is 4111 1111 1111 1111"}])
    finally:
        unsubscribe(seen.append)
    assert [(e.tenant_id, e.payload) for e in seen] == [(tenant.pk, {"call_ids": [call.pk]})]
    assert EventType.TURN_COMPLETED not in WEBHOOK_EVENT_TYPES  # one per turn: live pages only


def test_shows_how_each_transfer_went(owner_client, tenant, agent):
    from calls.models import Transfer, TransferState

    call = make_call(tenant=tenant, agent=agent)
    Transfer.objects.create(tenant=tenant, call=call, destination="the front desk",
                            target="+15550107000", state=TransferState.RETURNED,
                            person_status="no-answer")
    body = owner_client.get(reverse("portal:call-detail", args=[call.pk])).content.decode()
    assert "<dt>Transfer to the front desk</dt><dd>Back with the agent (no answer)</dd>" in body
