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


def test_a_kept_conversation_is_sealed_exported_and_gone_after_forgetting_or_erasure(
        tenant, phone_number):
    from django.core.cache import cache

    from calls.services import call_start
    from compliance.services.subjects import subject_erase, subject_export
    from memory.services import memory_forget
    from memory.working import _key, working_memory_keep, working_memory_peek

    def a_dropped_call(n: int):
        call = call_start(tenant=tenant, phone_number=phone_number, call_sid=f"CA{n:032d}",
                          from_number="+15557654321", to_number=phone_number.e164)
        messages = [{"role": "user", "text": "Book me in, my name is Ana Lima"},
                    {"role": "assistant", "text": "What day and time would you like?"}]
        assert working_memory_keep(call=call, messages=messages)
        return call

    call = a_dropped_call(1)
    # sealed in the cache: the words are not readable there
    assert "Ana Lima" not in cache.get(_key(tenant.pk, call.contact_id))
    exported = subject_export(tenant=tenant, phone_number="+15557654321")
    assert "Ana Lima" in str(exported)
    # forgetting the caller drops it
    memory_forget(tenant=tenant, contact=call.contact)
    assert working_memory_peek(tenant=tenant, contact=call.contact) is None
    # and so does erasure
    call = a_dropped_call(2)
    subject_erase(tenant=tenant, phone_number="+15557654321", actor=None)
    assert cache.get(_key(tenant.pk, call.contact_id)) is None
