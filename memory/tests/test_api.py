"""Contacts over the API: personal data read in clear only through an audited detail, a name set
by the tenant, the opt-out, and forgetting."""

from __future__ import annotations

import pytest

from calls.services import call_start
from compliance.models import AuditEvent
from memory.models import MemoryFact
from memory.services import memory_remember

pytestmark = pytest.mark.django_db
CONTACTS = "/api/v1/contacts/"


@pytest.fixture
def contact(tenant, phone_number):
    call = call_start(tenant=tenant, phone_number=phone_number, call_sid="CA" + "1" * 32,
                      from_number="+15557654321", to_number=phone_number.e164)
    memory_remember(tenant=tenant, contact=call.contact, key="last_book_appointment",
                    value="when tuesday at ten", source_call=call)
    return call.contact


def test_the_list_holds_no_personal_data_and_the_detail_is_audited(api, contact):
    listed = api.get(CONTACTS).json()["results"]
    assert [set(row) for row in listed] == [{"id", "call_count", "first_seen_at",
                                             "last_seen_at", "do_not_remember",
                                             "do_not_call"}]
    assert listed[0]["id"] == contact.id and listed[0]["call_count"] == 1
    detail = api.get(f"{CONTACTS}{contact.id}/").json()
    assert detail["phone_number"] == "+15557654321"
    assert detail["facts"] == {"last_book_appointment": "when tuesday at ten"}
    assert AuditEvent.objects.filter(action="contact.read", target_id=str(contact.id)).exists()


def test_the_tenant_names_a_contact_and_bad_input_is_a_clear_400(api, contact):
    assert api.patch(f"{CONTACTS}{contact.id}/", {"name": "Ana Lima"}).json()["name"] == "Ana Lima"
    refused = api.patch(f"{CONTACTS}{contact.id}/", {"name": "x" * 101})
    assert refused.status_code == 400 and "name" in refused.json()["error"]["fields"]
    refused = api.patch(f"{CONTACTS}{contact.id}/", {"do_not_remember": "maybe"})
    assert refused.status_code == 400


def test_opting_out_forgets_everything_and_delete_forgets_but_keeps_the_contact(api, contact):
    api.patch(f"{CONTACTS}{contact.id}/", {"name": "Ana Lima"})
    opted_out = api.patch(f"{CONTACTS}{contact.id}/", {"do_not_remember": True}).json()
    assert opted_out["do_not_remember"] is True and opted_out["name"] == ""
    assert opted_out["facts"] == {} and not MemoryFact.objects.exists()
    assert api.delete(f"{CONTACTS}{contact.id}/").status_code == 204
    assert api.get(f"{CONTACTS}{contact.id}/").json()["call_count"] == 1
