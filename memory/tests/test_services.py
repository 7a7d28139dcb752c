"""Memory writes from a live call: facts the agent chose to remember."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_a_fact_the_agent_remembers_on_a_call_is_sealed_on_the_callers_contact(
        tenant, phone_number):
    from calls.services import call_start
    from memory.models import MemoryFact
    from memory.selectors import contact_facts
    from memory.services import memory_remember_on_call

    call = call_start(tenant=tenant, phone_number=phone_number, call_sid="CA" + "8" * 32,
                      from_number="+15557654321", to_number=phone_number.e164)
    memory_remember_on_call(call=call, key="preferred_dentist", value="Dr. Rivera")
    memory_remember_on_call(call=call, key="note", value="x" * 10_000)  # too long: dropped

    fact = MemoryFact.objects.get(contact=call.contact)
    assert fact.source_call_id == call.pk and "Rivera" not in fact.value_sealed
    assert contact_facts(call.contact) == {"preferred_dentist": "Dr. Rivera"}
