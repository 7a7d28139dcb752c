"""The learning job: questions callers asked that the agent could not answer become suggested
knowledge entries with their evidence; failing tools are flagged; a member decides."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agents.demo import demo_seed
from agents.models import Agent, KnowledgeEntry
from aybiza.core.errors import ApplicationError
from calls.models import Outcome, Role
from learning.models import Suggestion, SuggestionStatus
from learning.services import call_analyze, suggestion_accept, suggestion_dismiss
from learning.suggestions import learning_run
from learning.tests.test_replay import past_call

pytestmark = pytest.mark.django_db
WHITENING = ["Do you do teeth whitening?", "Do you offer whitening?",
             "Can I get my teeth whitened?"]


@pytest.fixture
def demo():
    seed = demo_seed(number="+15550100000", base_url="http://127.0.0.1:9")
    return Agent.objects.get(pk=seed.agent_id)


def asked(agent, question: str, *, number: str = "+15557654321"):
    call = past_call(agent, [(Role.AGENT, "Hello, how can I help?"), (Role.CALLER, question),
                             (Role.AGENT, "Sorry, I didn't understand that.")],
                     tools=[], outcome=Outcome.CALLER_HUNG_UP)
    if number != "+15557654321":
        type(call).objects.filter(pk=call.pk).update(from_number=number)
    call_analyze(call_id=call.pk)
    return call


def test_a_question_asked_on_several_calls_becomes_a_suggested_entry_with_its_evidence(demo):
    calls = [asked(demo, question) for question in WHITENING]
    asked(demo, "Is there a bike rack?")  # asked once: not yet a pattern
    asked(demo, "What are your opening hours?")  # answered by the knowledge

    run = learning_run(tenant=demo.tenant, agent=demo)

    [suggestion] = Suggestion.objects.filter(agent=demo)
    assert run.calls_read == 5 and run.suggestions == 1
    assert suggestion.kind == "knowledge_entry" and suggestion.status == "open"
    assert suggestion.proposal["question"] in WHITENING and suggestion.proposal["answer"] == ""
    assert suggestion.evidence["calls"] == [c.pk for c in calls]
    assert [e["quote"] for e in suggestion.evidence["examples"]] == WHITENING
    # the next run reads only newer calls, and the same question updates the same suggestion
    asked(demo, "Could you whiten my teeth?")
    second = learning_run(tenant=demo.tenant, agent=demo)
    suggestion.refresh_from_db()
    assert Suggestion.objects.filter(agent=demo).count() == 1
    assert second.calls_read == 1 and second.suggestions == 1
    assert len(suggestion.evidence["calls"]) == 1 + 3  # merged with the earlier evidence


def test_the_answer_is_proposed_from_the_agents_documents(demo):
    from agents.documents import document_add

    document_add(tenant=demo.tenant, agent=demo, filename="Hours.md",
                 data=b"# Whitening\n\nWe offer teeth whitening on Fridays, 300 dollars a session.")
    for question in WHITENING[:2]:
        asked(demo, question)
    learning_run(tenant=demo.tenant, agent=demo)
    assert Suggestion.objects.get().proposal["answer"] == (
        "We offer teeth whitening on Fridays, 300 dollars a session.")


def test_accepting_adds_the_entry_to_the_draft_and_a_decision_is_never_raised_again(demo):
    from agents.versions import draft_has_changes

    for question in WHITENING:
        asked(demo, question)
    learning_run(tenant=demo.tenant, agent=demo)
    suggestion = Suggestion.objects.get()
    with pytest.raises(ApplicationError):  # no answer proposed: the member writes it
        suggestion_accept(tenant=demo.tenant, suggestion=suggestion)
    answer = "Yes, whitening is 300 dollars a session."
    suggestion_accept(tenant=demo.tenant, suggestion=suggestion, answer=answer)
    entry = KnowledgeEntry.objects.get(agent=demo, answer=answer)
    assert entry.question == suggestion.proposal["question"] and draft_has_changes(demo)
    with pytest.raises(ApplicationError):
        suggestion_dismiss(tenant=demo.tenant, suggestion=suggestion)
    # callers asking again later do not bring it back
    asked(demo, WHITENING[0])
    asked(demo, WHITENING[1])
    learning_run(tenant=demo.tenant, agent=demo)
    assert Suggestion.objects.get().status == SuggestionStatus.ACCEPTED


def test_a_tool_that_keeps_failing_is_flagged(demo):
    from tools.models import ExecutionStatus, ToolExecution

    for _ in range(3):
        call = asked(demo, "Can I book something?")
        ToolExecution.objects.create(tenant=demo.tenant, call=call, tool_name="book_appointment",
                                     status=ExecutionStatus.FAILED, http_status=503)
    learning_run(tenant=demo.tenant, agent=demo)
    flagged = Suggestion.objects.get(kind="tool_failures")
    assert flagged.title == "The tool book_appointment failed 3 of 3 times"
    assert flagged.evidence["examples"][0]["quote"] == "failed (HTTP 503)"


def test_erasing_a_caller_removes_their_quotes_from_the_evidence(demo):
    from compliance.services import subject_erase, subject_export

    asked(demo, WHITENING[0], number="+15551230001")
    asked(demo, WHITENING[1], number="+15551230002")
    learning_run(tenant=demo.tenant, agent=demo)
    exported = subject_export(tenant=demo.tenant, phone_number="+15551230001")
    assert WHITENING[0] in str(exported["providers"]["learning"])
    subject_erase(tenant=demo.tenant, phone_number="+15551230001", actor=None)
    evidence = Suggestion.objects.get().evidence
    assert [e["quote"] for e in evidence["examples"]] == [WHITENING[1]]
    assert len(evidence["calls"]) == 1


def test_learn_accept_and_dismiss_through_the_api(demo, api_client_for):
    for question in WHITENING:
        asked(demo, question)
    client = api_client_for(demo.tenant)
    learned = client.post(reverse("agent-learn", kwargs={"pk": demo.pk}), {}, format="json")
    assert learned.status_code == 200 and learned.json()["suggestions"] == 1
    listed = client.get(reverse("suggestion-list"), {"agent": demo.pk, "status": "open"}).json()
    [suggestion] = listed["results"]
    accept = reverse("suggestion-accept", kwargs={"pk": suggestion["id"]})
    assert client.post(accept, {}, format="json").status_code == 400  # no answer yet
    accepted = client.post(accept, {"answer": "Yes, 300 dollars."}, format="json")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    again = client.post(reverse("suggestion-dismiss", kwargs={"pk": suggestion["id"]}))
    assert again.status_code == 409
    assert client.get(reverse("suggestion-list"), {"status": "nope"}).status_code == 400


def test_twenty_unanswered_calls_to_a_published_version_that_answers(demo):
    from agents.versions import agent_publish, runnable
    from learning.evaluation import play_lines

    calls = [asked(demo, WHITENING[n % 3]) for n in range(20)]
    learning_run(tenant=demo.tenant, agent=demo)
    suggestion = Suggestion.objects.get()
    assert suggestion.evidence["calls"] == [c.pk for c in calls]
    assert suggestion.evidence["count"] == 20
    assert len(suggestion.evidence["examples"]) == 3  # the three wordings, each once
    suggestion_accept(tenant=demo.tenant, suggestion=suggestion,
                      answer="Yes, teeth whitening is 300 dollars a session.")
    # published through the evaluation gate (the demo's suite still passes)
    version = agent_publish(tenant=demo.tenant, agent=Agent.objects.get(pk=demo.pk))
    played = play_lines(demo, runnable(version, demo), ["Do you offer whitening?"])
    assert played.replies == ["Yes, teeth whitening is 300 dollars a session."]


def grouped(*groups: tuple[str, list[int]]) -> str:
    """A model's grouping reply."""
    import json

    return json.dumps({"groups": [{"question": q, "members": m} for q, m in groups]})


def _with_openai(agent, fake_openai) -> None:
    agent.llm_provider = "openai"
    agent.provider_options = {"llm": fake_openai.provider_options()}
    agent.save(update_fields=["llm_provider", "provider_options"])


def test_an_agent_with_a_cloud_model_has_it_draft_the_answer(demo, fake_openai):
    from agents.documents import document_add
    from tests.fakes.openai import text_answer

    document_add(tenant=demo.tenant, agent=demo, filename="Prices.md",
                 data=b"# Whitening\n\nTeeth whitening: 300 dollars a session, on Fridays.")
    for question in WHITENING[:2]:
        asked(demo, question)  # analysed offline, before the agent moves to the cloud model
    _with_openai(demo, fake_openai)
    fake_openai.queue(text_answer(grouped(("Do you whiten teeth?", [1, 2]))),
                      text_answer("Yes, we whiten teeth on Fridays, ", "300 dollars a session."))
    learning_run(tenant=demo.tenant, agent=demo)
    proposal = Suggestion.objects.get().proposal
    assert proposal["answer"] == "Yes, we whiten teeth on Fridays, 300 dollars a session."
    assert proposal["answer_by"] == "openai"
    # the model was given the facts and told to invent nothing
    [_grouping, request] = fake_openai.requests
    system, user = request["messages"][0]["content"], request["messages"][-1]["content"]
    assert "Never invent" in system and "UNKNOWN" in system
    assert "300 dollars a session, on Fridays" in user and "opening hours" in user.lower()
    assert proposal["question"] in user


@pytest.mark.parametrize("reply", ["UNKNOWN", "fails"])
def test_a_model_that_cannot_answer_leaves_the_answer_to_the_member(demo, fake_openai, reply):
    from tests.fakes.openai import http_error, text_answer

    for question in WHITENING[:2]:
        asked(demo, question)
    _with_openai(demo, fake_openai)
    fake_openai.queue(*([text_answer(grouped(("Do you whiten teeth?", [1, 2]))),
                         text_answer("UNKNOWN")] if reply == "UNKNOWN" else
                        [http_error(500)] * 8))  # the grouping and the draft both fail
    learning_run(tenant=demo.tenant, agent=demo)
    proposal = Suggestion.objects.get().proposal
    assert proposal["answer"] == ""  # no documents: nothing to propose offline either
    assert proposal["answer_by"] == ("openai" if reply == "UNKNOWN" else "offline")


def test_a_cloud_model_groups_questions_by_meaning_and_a_bad_grouping_falls_back(
        demo, fake_openai):
    from tests.fakes.openai import text_answer

    # given callers asking one thing in words the offline grouping cannot bring together
    bleach = asked(demo, "What does bleaching cost?")
    whiten = asked(demo, "Do you do teeth whitening?")
    kids = asked(demo, "Do you see children?")
    _with_openai(demo, fake_openai)
    fake_openai.queue(
        text_answer(grouped(("Do you offer teeth whitening, and what does it cost?", [1, 2]),
                            ("Do you treat children?", [3]))),
        text_answer("UNKNOWN"))
    # when the learning job runs
    learning_run(tenant=demo.tenant, agent=demo)
    # then the model's group of two calls is one suggestion, in its wording; one call is not
    suggestion = Suggestion.objects.get()
    assert suggestion.proposal["question"] == ("Do you offer teeth whitening, and what does it "
                                               "cost?")
    assert suggestion.evidence["calls"] == sorted([bleach.pk, whiten.pk])
    grouping = fake_openai.requests[0]
    assert "same information" in grouping["messages"][0]["content"]
    assert "1. What does bleaching cost?" in grouping["messages"][-1]["content"]
    assert kids.pk not in suggestion.evidence["calls"]


@pytest.mark.parametrize("reply", ['{"groups": "all of them"}', "Sure! Here are the groups.",
                                   '{"groups": [{"question": "", "members": [1]}]}'])
def test_a_grouping_that_is_not_one_leaves_the_offline_grouping(demo, fake_openai, reply):
    from tests.fakes.openai import text_answer

    for question in WHITENING:
        asked(demo, question)
    _with_openai(demo, fake_openai)
    fake_openai.queue(text_answer(reply), text_answer("UNKNOWN"))
    learning_run(tenant=demo.tenant, agent=demo)
    suggestion = Suggestion.objects.get()
    assert suggestion.proposal["question"] in WHITENING and suggestion.evidence["count"] == 3


def _left_at_the_time_question(agent):
    call = past_call(agent, [(Role.AGENT, "Hello, how can I help?"),
                             (Role.CALLER, "I would like to book an appointment."),
                             (Role.AGENT, "Sure. What day and time would you like?"),
                             (Role.CALLER, "Hmm, I'll check my diary.")],
                     tools=[], outcome=Outcome.CALLER_HUNG_UP)
    call_analyze(call_id=call.pk)
    return call


def test_a_task_failing_at_one_step_proposes_a_prompt_addition(demo):
    from agents.services import agent_update

    agent_update(tenant=demo.tenant, agent=demo, success_criteria="An appointment is booked.")
    calls = [_left_at_the_time_question(demo) for _ in range(3)]
    learning_run(tenant=demo.tenant, agent=demo)
    suggestion = Suggestion.objects.get(kind="prompt_addition")
    assert suggestion.title == ("3 calls failed after the agent asked “Sure. What day and time "
                                "would you like?”: Book appointment never ran.")
    assert suggestion.evidence["calls"] == sorted(c.pk for c in calls)
    assert suggestion.evidence["examples"][0]["quote"] == "Hmm, I'll check my diary."
    assert suggestion.proposal["prompt_addition"] == ""  # offline: the member writes it
    # accepting needs the text, and appends it to the draft's instructions
    with pytest.raises(ApplicationError):
        suggestion_accept(tenant=demo.tenant, suggestion=suggestion)
    addition = "If the caller needs to check their diary, offer to call them back."
    suggestion_accept(tenant=demo.tenant, suggestion=suggestion, answer=addition)
    demo.refresh_from_db()
    assert demo.system_prompt.endswith("\n\n" + addition)


def test_a_cloud_model_drafts_the_prompt_addition(demo, fake_openai):
    from agents.services import agent_update
    from tests.fakes.openai import text_answer

    agent_update(tenant=demo.tenant, agent=demo, success_criteria="An appointment is booked.")
    for _ in range(2):
        _left_at_the_time_question(demo)
    _with_openai(demo, fake_openai)
    fake_openai.queue(text_answer("When a caller needs time to decide, offer a callback."))
    learning_run(tenant=demo.tenant, agent=demo)
    proposal = Suggestion.objects.get(kind="prompt_addition").proposal
    assert proposal["prompt_addition"] == "When a caller needs time to decide, offer a callback."
    assert proposal["drafted_by"] == "openai"
    [request] = fake_openai.requests
    assert "Never invent" in request["messages"][0]["content"]
    assert "Hmm, I'll check my diary." in request["messages"][-1]["content"]


def test_slow_answers_from_the_end_of_turn_wait_propose_a_shorter_one(demo):
    from calls.models import Turn

    calls = [asked(demo, "What are your opening hours?") for _ in range(2)]
    for call in calls:
        Turn.objects.create(tenant=demo.tenant, call=call, index=9, role=Role.AGENT,
                            text="We open at nine.", stt_final_ms=1400, llm_first_token_ms=1550,
                            tts_first_audio_ms=1700, first_frame_ms=1760)
    learning_run(tenant=demo.tenant, agent=demo)
    suggestion = Suggestion.objects.get(kind="turn_taking")
    assert suggestion.title == "Slow answers on 2 calls: typically 1760 ms after the caller stopped"
    assert suggestion.proposal["stage"] == "waiting for the caller to finish"
    assert suggestion.proposal["end_of_turn_silence_ms"] == demo.end_of_turn_silence_ms - 200
    suggestion_accept(tenant=demo.tenant, suggestion=suggestion)
    before = demo.end_of_turn_silence_ms
    demo.refresh_from_db()
    assert demo.end_of_turn_silence_ms == before - 200


def test_an_action_callers_ask_for_that_no_tool_does_is_suggested(demo):
    cancels = [asked(demo, line) for line in ("I need to cancel my appointment.",
                                              "Can you cancel my visit on Friday?")]
    asked(demo, "I would like to book an appointment.")  # the booking tool does that
    asked(demo, "Please refund me.")  # once: not yet a pattern
    learning_run(tenant=demo.tenant, agent=demo)
    [suggestion] = Suggestion.objects.filter(kind="missing_action")
    assert suggestion.title == "Callers ask to cancel on 2 calls, and no tool does it"
    assert suggestion.evidence["calls"] == sorted(c.pk for c in cancels)
    suggestion_accept(tenant=demo.tenant, suggestion=suggestion)  # acknowledged
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.ACCEPTED
