"""Post-call analysis and the memory it feeds: every call summarised, judged and mined; the
caller's next call starts knowing them; nothing crosses tenants or survives an opt-out."""

from __future__ import annotations

import json

import pytest

from agents.services import agent_create, phone_number_create
from aybiza.core.services import tenant_create
from calls.models import Outcome
from calls.realtime.loader import load_stream
from calls.services import call_finish, call_start, turn_save
from calls.twilio import StreamToken
from learning.models import CallAnalysis
from learning.services import call_analyze
from memory.models import Contact, MemoryFact
from memory.selectors import contact_name, remembered
from memory.services import contact_update
from tests.fakes.openai import text_answer
from tools.models import ExecutionStatus, ToolExecution

pytestmark = pytest.mark.django_db
CALLER = "+15557654321"
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"},
                                           "when": {"type": "string"}}}


@pytest.fixture
def clinic(tenant):
    agent = agent_create(tenant=tenant, name="Reception", greeting="Hello, Acme Dental.",
                         success_criteria="An appointment is booked.",
                         extraction_schema=SCHEMA,
                         knowledge=[{"question": "What are your opening hours?",
                                     "answer": "Nine to five."}])
    from tools.services import tool_create

    tool_create(tenant=tenant, name="book_appointment", description="Book an appointment.",
                url_template="https://api.example.com/book", agent_ids=[agent.id],
                trigger_phrases=["book an appointment"],
                parameters={"type": "object", "properties": {"when": {"type": "string"}}})
    number = phone_number_create(tenant=tenant, e164="+15550100000", agent_id=agent.id)
    return agent, number


def booking_call(tenant, number, *, sid: str, caller_lines: list[str], booked: str | None,
                 outcome: str = Outcome.AGENT_ENDED):
    call = call_start(tenant=tenant, phone_number=number, call_sid=sid, from_number=CALLER,
                      to_number=number.e164)
    index = 0
    turn_save(call=call, index=index, role="agent", text="Hello, Acme Dental.")
    for line in caller_lines:
        index += 1
        turn_save(call=call, index=index, role="caller", text=line)
        index += 1
        turn_save(call=call, index=index, role="agent", text="Sure.")
    if booked is not None:
        ToolExecution.objects.create(tenant=tenant, call=call, tool_name="book_appointment",
                                     arguments={"when": booked},
                                     status=ExecutionStatus.SUCCEEDED, result={"ok": True})
    return call_finish(call=call, outcome=outcome)


def test_a_call_is_summarised_judged_and_its_fields_extracted(tenant, clinic):
    agent, number = clinic
    call = booking_call(tenant, number, sid="CA" + "1" * 32, booked="tuesday at ten",
                        caller_lines=["hi my name is ana lima", "what are your opening hours",
                                      "i would like to book an appointment",
                                      "tuesday at ten", "thank you"])
    # when
    analysis = call_analyze(call_id=call.id)
    # then
    assert analysis.analyzer == "offline" and analysis.status == "done"
    assert "What are your opening hours?" in analysis.summary
    assert "Book appointment (when tuesday at ten): done." in analysis.summary
    assert "The agent ended the call" in analysis.summary
    assert analysis.success is True and "succeeded" in analysis.success_reason
    assert analysis.sentiment == "positive"
    assert "book appointment" in analysis.topics
    # the extracted fields hold what the caller said: sealed, and clear through the selector
    from learning.selectors import analysis_extracted

    assert analysis_extracted(analysis) == {"name": "Ana Lima", "when": "tuesday at ten"}
    stored = CallAnalysis.objects.values_list("extracted_sealed", flat=True).get()
    assert "Ana" not in stored and "tuesday" not in stored
    # and analysing again changes nothing (the task may be delivered twice)
    assert call_analyze(call_id=call.id).pk == analysis.pk


def test_a_call_without_the_booking_fails_the_criterion(tenant, clinic):
    agent, number = clinic
    call = booking_call(tenant, number, sid="CA" + "2" * 32, booked=None,
                        caller_lines=["what are your opening hours"],
                        outcome=Outcome.CALLER_HUNG_UP)
    analysis = call_analyze(call_id=call.id)
    assert analysis.success is False and "never ran" in analysis.success_reason


def test_the_next_call_from_the_caller_starts_knowing_them(tenant, clinic):
    agent, number = clinic
    # given a first call where the caller gave their name and booked
    first = booking_call(tenant, number, sid="CA" + "3" * 32, booked="tuesday at ten",
                         caller_lines=["this is ana lima", "book an appointment tuesday at ten"])
    call_analyze(call_id=first.id)
    # when they call again
    second = call_start(tenant=tenant, phone_number=number, call_sid="CA" + "4" * 32,
                        from_number="(555) 765-4321", to_number=number.e164)
    loaded = load_stream(token=StreamToken(call_id=second.id, tenant_id=tenant.id),
                         call_sid=second.call_sid, stream_sid="MZ" + "4" * 32)
    # then it is the same contact, greeted by name, with the booking and the last call in mind
    assert second.contact_id == first.contact_id
    assert loaded.config.greeting == "Welcome back, Ana! Hello, Acme Dental."
    conversation = loaded.config.conversation
    assert conversation.caller_name == "Ana Lima"
    assert conversation.memory["last_book_appointment"].startswith("when tuesday at ten")
    assert "Book appointment" in conversation.memory["last_call"]
    # and the offline brain recalls the booking when asked
    from calls.realtime.providers.llm.offline.memory import recall_line

    assert "tuesday at ten" in recall_line(conversation, "when is my appointment")


def test_memory_never_crosses_tenants(tenant, clinic):
    agent, number = clinic
    call_analyze(call_id=booking_call(tenant, number, sid="CA" + "5" * 32, booked="friday",
                                      caller_lines=["my name is ana lima"]).id)
    # given another business the same person calls
    other = tenant_create(name="Globex")
    other_agent = agent_create(tenant=other, name="Globex desk", greeting="Globex, hello.")
    other_number = phone_number_create(tenant=other, e164="+15550100009",
                                       agent_id=other_agent.id)
    call = call_start(tenant=other, phone_number=other_number, call_sid="CA" + "6" * 32,
                      from_number=CALLER, to_number=other_number.e164)
    # then it is a stranger there
    assert call.contact.tenant_id == other.id and call.contact.call_count == 1
    assert remembered(call.contact).empty
    loaded = load_stream(token=StreamToken(call_id=call.id, tenant_id=other.id),
                         call_sid=call.call_sid, stream_sid="MZ" + "6" * 32)
    assert loaded.config.greeting == "Globex, hello."


def test_a_caller_who_opts_out_is_forgotten_and_not_remembered_again(tenant, clinic):
    agent, number = clinic
    first = booking_call(tenant, number, sid="CA" + "7" * 32, booked="monday",
                         caller_lines=["my name is ana lima"])
    call_analyze(call_id=first.id)
    contact = Contact.objects.get(pk=first.contact_id)
    assert contact_name(contact) == "Ana Lima" and MemoryFact.objects.exists()
    # when the tenant marks the contact "do not remember"
    contact_update(tenant=tenant, contact=contact, do_not_remember=True)
    # then everything is forgotten at once, and a later call writes nothing
    assert not MemoryFact.objects.exists() and contact_name(contact) == ""
    later = booking_call(tenant, number, sid="CA" + "8" * 32, booked="friday",
                         caller_lines=["my name is ana lima"])
    call_analyze(call_id=later.id)
    assert not MemoryFact.objects.exists()
    assert remembered(Contact.objects.get(pk=contact.pk)).empty


def test_an_invalid_extraction_schema_is_refused_at_the_field(tenant):
    from aybiza.core.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        agent_create(tenant=tenant, name="Bad", extraction_schema={"type": "string"})
    assert "extraction_schema" in json.dumps(refused.value.extra)


def test_a_cloud_model_writes_the_analysis_and_bad_fields_get_one_retry(
        tenant, clinic, fake_openai):
    agent, number = clinic
    agent.llm_provider = "openai"
    agent.provider_options = {"llm": fake_openai.provider_options()}
    agent.save()
    good = {"summary": "Ana booked Tuesday at ten.", "success": True,
            "success_reason": "Booked.", "sentiment": "positive", "topics": ["booking"],
            "extracted": {"name": "Ana Lima", "when": "tuesday at ten"}}
    # the model first answers a field of the wrong type, then fixes it when told
    fake_openai.queue(text_answer(json.dumps({**good, "extracted": {"name": 7}})),
                      text_answer("```json\n" + json.dumps(good) + "\n```"))
    call = booking_call(tenant, number, sid="CA" + "9" * 32, booked="tuesday at ten",
                        caller_lines=["my name is ana lima"])
    analysis = call_analyze(call_id=call.id)
    assert analysis.analyzer == "openai" and analysis.error == ""
    assert analysis.summary == "Ana booked Tuesday at ten." or "[" in analysis.summary
    assert analysis.success is True and analysis.topics == ["booking"]
    from learning.selectors import analysis_extracted

    assert analysis_extracted(analysis) == good["extracted"]
    second_prompt = fake_openai.requests[-1]["messages"][-1]["content"]
    assert "invalid" in second_prompt


def test_a_cloud_model_that_fails_falls_back_to_the_offline_analysis(tenant, clinic, fake_openai):
    agent, number = clinic
    agent.llm_provider = "openai"
    agent.provider_options = {"llm": fake_openai.provider_options()}
    agent.save()
    fake_openai.queue(text_answer("I think the call went well."))
    call = booking_call(tenant, number, sid="CA" + "a" * 32, booked="monday",
                        caller_lines=["book an appointment monday"])
    analysis = call_analyze(call_id=call.id)
    assert analysis.analyzer == "offline" and analysis.success is True
    assert "did not answer JSON" in analysis.error


def test_a_data_subject_request_exports_and_erases_the_memory_and_analyses(tenant, clinic):
    from compliance.services import subject_erase, subject_export

    agent, number = clinic
    call = booking_call(tenant, number, sid="CA" + "b" * 32, booked="friday at two",
                        caller_lines=["hello my name is ana lima"])
    call_analyze(call_id=call.id)
    # the export holds the memory in clear (GDPR access)
    bundle = subject_export(tenant=tenant, phone_number=CALLER)
    memory = bundle["providers"]["memory"]
    assert memory["name"] == "Ana Lima"
    assert memory["facts"]["last_book_appointment"].startswith("when friday at two")
    assert bundle["related"]["learning.callanalysis"][0]["success"] is True
    # erasure leaves no contact, fact or analysis
    subject_erase(tenant=tenant, phone_number=CALLER, actor=None)
    assert not Contact.objects.exists() and not MemoryFact.objects.exists()
    assert not CallAnalysis.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_every_finished_call_is_analysed_in_the_background(tenant, clinic, settings):
    from aybiza.core.events import EventType, subscribe, unsubscribe
    from learning.tasks import wait_for_in_process_analyses

    settings.POST_CALL_ANALYSIS = True
    seen = []
    handler = subscribe(EventType.CALL_ANALYZED)(seen.append)
    try:
        agent, number = clinic
        call = booking_call(tenant, number, sid="CA" + "c" * 32, booked="monday",
                            caller_lines=["book an appointment monday"])
        wait_for_in_process_analyses()
    finally:
        unsubscribe(handler)
    analysis = CallAnalysis.objects.get(call=call)
    assert analysis.success is True
    assert [e.payload["call_id"] for e in seen] == [call.id]
