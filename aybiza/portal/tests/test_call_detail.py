"""One call: transcript as a conversation, latency bars, tool runs, events, cost."""

from __future__ import annotations

import pytest
from django.urls import reverse

from aybiza.portal.tests.factories import make_call

pytestmark = pytest.mark.django_db


def test_shows_the_whole_call_in_bounded_queries(owner_client, tenant, agent,
                                                 django_assert_max_num_queries):
    call = make_call(tenant=tenant, agent=agent)

    with django_assert_max_num_queries(8):
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
