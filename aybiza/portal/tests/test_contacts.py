"""Contacts in the portal: who called, what is remembered, naming and forgetting."""

from __future__ import annotations

import pytest
from django.urls import reverse

from aybiza.portal.tests.factories import make_call
from memory.models import MemoryFact
from memory.selectors import contact_name
from memory.services import memory_remember

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(tenant, agent):
    call = make_call(tenant=tenant, agent=agent, from_number="+15557654321")
    memory_remember(tenant=tenant, contact=call.contact, key="last_book_appointment",
                    value="when tuesday at ten", source_call=call)
    return call.contact


def test_a_new_tenant_sees_the_empty_state(owner_client):
    page = owner_client.get(reverse("portal:contacts")).content.decode()
    assert "No callers yet" in page


def test_the_list_shows_callers_in_bounded_queries(owner_client, tenant, agent, contact,
                                                    django_assert_max_num_queries):
    for n in range(5):
        make_call(tenant=tenant, agent=agent, from_number=f"+1555888000{n}")
    with django_assert_max_num_queries(12):
        page = owner_client.get(reverse("portal:contacts")).content.decode()
    assert "+15557654321" in page and "1 fact" in page and page.count("Unknown name") == 6


def test_a_member_names_a_caller_and_forgets_them(owner_client, contact):
    url = reverse("portal:contact-detail", args=[contact.pk])
    assert "when tuesday at ten" in owner_client.get(url).content.decode()
    assert owner_client.post(url, {"name": "Ana Lima"}).status_code == 302
    contact.refresh_from_db()
    assert contact_name(contact) == "Ana Lima"
    owner_client.post(reverse("portal:contact-forget", args=[contact.pk]))
    contact.refresh_from_db()
    assert contact_name(contact) == "" and not MemoryFact.objects.exists()


def test_bad_input_is_shown_at_the_field(owner_client, contact):
    page = owner_client.post(reverse("portal:contact-detail", args=[contact.pk]),
                             {"name": "x" * 101}).content.decode()
    assert "errorlist" in page and "at most 100 characters" in page


def test_a_viewer_reads_but_cannot_forget(viewer_client, contact):
    assert viewer_client.get(reverse("portal:contact-detail", args=[contact.pk])).status_code == 200
    assert viewer_client.post(reverse("portal:contact-forget",
                                      args=[contact.pk])).status_code == 403
    assert MemoryFact.objects.exists()
