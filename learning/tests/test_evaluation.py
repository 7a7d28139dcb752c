"""Evaluation suites in text mode: the demo agent's suite passes, a draft that forgot something
fails the scenario that needs it (while the published version still passes), bad scenarios are a
clear 400, and a cloud model is evaluated through the same loop."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from agents.demo import DEMO_SCENARIOS, demo_seed
from agents.models import Agent
from agents.services import agent_update
from aybiza.core.errors import ApplicationError
from learning.services import evaluation_run, scenario_create
from tests.fakes.openai import text_answer, tool_answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    seed = demo_seed(number="+15550100000")
    return Agent.objects.get(pk=seed.agent_id)


def test_the_demo_agents_suite_passes(demo):
    run = evaluation_run(tenant=demo.tenant, agent=demo)
    assert run.failed == 0 and run.passed == len(DEMO_SCENARIOS)
    booking = next(r for r in run.results if r["scenario"] == "Books an appointment")
    assert booking["tool_calls"][0]["name"] == "book_appointment"


def test_a_draft_that_forgot_the_hours_fails_where_it_matters(demo, capsys):
    # given a draft without the opening-hours entry (the published version still has it)
    knowledge = [{"question": k.question, "answer": k.answer} for k in demo.knowledge.all()
                 if "hours" not in k.question.lower()]
    agent_update(tenant=demo.tenant, agent=demo, knowledge=knowledge)
    # when both are evaluated
    draft = evaluation_run(tenant=demo.tenant, agent=demo)
    published = evaluation_run(tenant=demo.tenant, agent=demo, version_number=1)
    # then only the draft fails, on that scenario, saying why
    [failure] = [r for r in draft.results if not r["passed"]]
    assert failure["scenario"] == "Answers the opening hours"
    assert "Monday to Friday" in failure["checks"][0]["detail"]
    assert published.failed == 0 and draft.version.number > 1
    # and the command says so with a failing exit status
    with pytest.raises(SystemExit) as exit_status:
        call_command("eval", "--agent", str(demo.pk))
    assert exit_status.value.code == 1
    assert "FAIL  Answers the opening hours" in capsys.readouterr().out


@pytest.mark.parametrize("lines, checks, field", [
    ([], [{"type": "ends_call"}], "caller_lines"),
    (["hi"], [{"type": "sings"}], "checks"),
    (["hi"], [{"type": "reply_contains"}], "checks"),
    (["hi"], [{"type": "max_turns", "turns": -1}], "checks"),
    (["hi"], [{"type": "max_latency_ms", "ms": 0}], "checks"),
    (["hi"], [{"type": "tool_called", "name": "x", "schema": {"type": "strin"}}], "checks"),
    (["hi"], [{"type": "tool_called", "name": "x", "schema": {"$ref": "http://x/s"}}], "checks"),
])
def test_a_scenario_that_cannot_run_is_refused_at_its_field(demo, lines, checks, field):
    with pytest.raises(ApplicationError) as refused:
        scenario_create(tenant=demo.tenant, agent=demo, name="x", caller_lines=lines,
                        checks=checks)
    assert field in refused.value.extra["fields"]


def test_the_api_runs_the_suite_and_lists_the_runs(demo, api_client_for):
    api = api_client_for(demo.tenant)
    base = f"/api/v1/agents/{demo.pk}/"
    assert len(api.get(base + "scenarios/").json()["results"]) == len(DEMO_SCENARIOS)
    bad = api.post(base + "scenarios/", {"name": "x", "caller_lines": ["hi"],
                                         "checks": [{"type": "nope"}]}, format="json")
    assert bad.status_code == 400 and "checks" in json.dumps(bad.json())
    run = api.post(base + "evaluate/", {}, format="json").json()
    assert run["passed"] == len(DEMO_SCENARIOS) and run["failed"] == 0 and run["version"] == 1
    assert api.get(base + "evaluations/").json()["results"][0]["id"] == run["id"]


def test_a_cloud_model_is_evaluated_through_the_same_loop(demo, fake_openai, settings):
    settings.PRICE_OPENAI_LLM_INPUT_PER_MTOK = 1000.0  # per million tokens: 20 in = $0.02
    settings.PRICE_OPENAI_LLM_OUTPUT_PER_MTOK = 0.0
    demo.llm_provider = "openai"  # provider options are not a portal/API field: set directly
    demo.provider_options = {"llm": fake_openai.provider_options()}
    demo.save()
    demo.eval_scenarios.exclude(name="Books an appointment").delete()
    fake_openai.queue(
        text_answer("Sure, what day and time?"),
        text_answer("Tuesday at ten, shall I book it?"),
        tool_answer("", [("call_1", "book_appointment", '{"when": "2026-12-08T10:00:00"}')]),
        text_answer("You're booked for Tuesday at ten."))
    run = evaluation_run(tenant=demo.tenant, agent=demo)
    assert run.passed == 1, run.results
    assert run.results[0]["replies"][-1] == "You're booked for Tuesday at ten."
    # each of the model's four rounds read 20 tokens: priced as the calls price them
    assert run.results[0]["cost_usd"] == pytest.approx(4 * 20 * 1000.0 / 1e6)


def test_publishing_needs_the_suite_to_pass_unless_an_owner_overrides(demo, django_user_model):
    from agents.gates import EvaluationFailed
    from agents.versions import agent_publish
    from compliance.models import AuditEvent

    knowledge = [{"question": k.question, "answer": k.answer} for k in demo.knowledge.all()
                 if "located" not in k.question.lower()]
    agent_update(tenant=demo.tenant, agent=demo, knowledge=knowledge)
    # a failing draft is not published
    with pytest.raises(EvaluationFailed) as refused:
        agent_publish(tenant=demo.tenant, agent=demo)
    assert "Knows where the clinic is" in refused.value.message
    demo.refresh_from_db()
    assert demo.published_version.number == 1
    # over the API a key cannot override; the portal's owner can, and it is audited
    from rest_framework.test import APIClient

    from aybiza.core.services import api_key_create

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer " + api_key_create(
        tenant=demo.tenant, name="ci").key)
    publish = f"/api/v1/agents/{demo.pk}/publish/"
    assert api.post(publish, {}, format="json").status_code == 409
    assert api.post(publish, {"override_evaluation": True}, format="json").status_code == 403
    from django.test import Client
    from django.urls import reverse

    from aybiza.core.models import Role
    from aybiza.core.services import membership_set

    user = django_user_model.objects.create_user("boss", password="pw-boss-12345")
    membership_set(tenant=demo.tenant, user=user, role=Role.OWNER)
    owner = Client()
    owner.force_login(user)
    owner.post(reverse("portal:agent-publish", args=[demo.pk]), {"override_evaluation": "1"})
    demo.refresh_from_db()
    assert demo.published_version.number == 2
    assert AuditEvent.objects.filter(action="agent.publish_overrode_evaluation").exists()


def test_a_tool_check_with_a_schema_judges_the_arguments_against_it(demo):
    booking = ["I would like to book an appointment.", "Next Tuesday at ten in the morning.",
               "Yes, please."]
    scenario_create(tenant=demo.tenant, agent=demo, name="Books in the morning",
                    caller_lines=booking, checks=[{
                        "type": "tool_called", "name": "book_appointment",
                        "schema": {"type": "object", "required": ["when"],
                                   "properties": {"when": {"pattern": "T(0[89]|1[01]):"}}}}])
    scenario_create(tenant=demo.tenant, agent=demo, name="Books in the afternoon",
                    caller_lines=booking, checks=[{
                        "type": "tool_called", "name": "book_appointment",
                        "schema": {"type": "object",
                                   "properties": {"when": {"pattern": "T1[3-7]:"}}}}])
    run = evaluation_run(tenant=demo.tenant, agent=demo)
    results = {r["scenario"]: r for r in run.results}
    assert results["Books in the morning"]["passed"]
    afternoon = results["Books in the afternoon"]
    assert not afternoon["passed"]
    assert "do not match the schema: when: " in afternoon["checks"][0]["detail"]


BUSY_PARENT = {
    "name": "A busy parent books a check-up",
    "persona": "A busy parent calling between meetings.",
    "goal": "Book a check-up next Tuesday morning.",
    "branches": [{"say": "I'd like to book a check-up."},
                 {"when": "day and time", "say": "Next Tuesday at ten in the morning."},
                 {"when": "go ahead", "say": "Yes, please."},
                 {"when": "anything else", "say": "No, thank you. Goodbye."}],
    "checks": [{"type": "tool_called", "name": "book_appointment",
                "arguments": {"when": "T10:00"}}, {"type": "ends_call"}]}


def test_a_simulated_caller_follows_its_branches_offline(demo):
    scenario_create(tenant=demo.tenant, agent=demo, **BUSY_PARENT)
    demo.eval_scenarios.exclude(name=BUSY_PARENT["name"]).delete()
    run = evaluation_run(tenant=demo.tenant, agent=demo)
    [result] = run.results
    assert result["passed"], (result["caller_lines"], result["replies"])
    # the caller answered what the agent asked, in the order it asked
    assert result["caller_lines"] == [b["say"] for b in BUSY_PARENT["branches"]]


def test_a_simulated_caller_is_played_by_the_agents_cloud_model(demo, fake_openai):
    demo.llm_provider = "openai"
    demo.provider_options = {"llm": fake_openai.provider_options()}
    demo.save()
    scenario_create(tenant=demo.tenant, agent=demo, **{**BUSY_PARENT, "branches": []})
    demo.eval_scenarios.exclude(name=BUSY_PARENT["name"]).delete()
    fake_openai.queue(
        text_answer("Hi, I need a check-up for next Tuesday morning."),  # the caller
        text_answer("Sure, what time on Tuesday?"),  # the agent
        text_answer("Ten would be great."),
        tool_answer("", [("call_1", "book_appointment", '{"when": "2026-12-08T10:00:00"}')]),
        text_answer("You're booked for Tuesday at ten."),
        text_answer("[DONE]"))
    run = evaluation_run(tenant=demo.tenant, agent=demo)
    [result] = run.results
    assert result["caller_lines"] == ["Hi, I need a check-up for next Tuesday morning.",
                                      "Ten would be great."]
    assert result["checks"][0]["passed"] and not result["checks"][1]["passed"]  # no goodbye
    # the model played the caller from its persona and goal, hearing the agent's words
    caller_request = fake_openai.requests[2]
    assert "Persona: A busy parent" in caller_request["messages"][0]["content"]
    assert caller_request["messages"][-1]["content"] == "Sure, what time on Tuesday?"


@pytest.mark.parametrize("fields, field", [
    ({"goal": ""}, "goal"),
    ({"branches": [{"when": "x", "say": "y"}]}, "branches"),
    ({"branches": [{"say": "a"}, {"say": "b"}]}, "branches"),
    ({"branches": [{"say": ""}]}, "branches"),
])
def test_a_simulated_caller_that_cannot_be_played_is_refused(demo, fields, field):
    with pytest.raises(ApplicationError) as refused:
        scenario_create(tenant=demo.tenant, agent=demo, **{**BUSY_PARENT, **fields})
    assert field in refused.value.extra["fields"]


def test_checks_on_the_post_call_analysis_of_the_conversation(demo):
    agent_update(tenant=demo.tenant, agent=demo, success_criteria="An appointment is booked.",
                 extraction_schema={"type": "object", "properties": {
                     "when": {"type": "string", "description": "the appointment's time"}}})
    booking = ["I would like to book an appointment.", "Next Tuesday at ten in the morning.",
               "Yes, please."]
    scenario_create(tenant=demo.tenant, agent=demo, name="Booked, and it shows",
                    caller_lines=booking, checks=[{"type": "succeeds"}])
    scenario_create(tenant=demo.tenant, agent=demo, name="Only asks the hours",
                    caller_lines=["What are your opening hours?"],
                    checks=[{"type": "succeeds"}, {"type": "extracted", "fields": {"when": "10"}}])
    run = evaluation_run(tenant=demo.tenant, agent=demo)
    results = {r["scenario"]: r for r in run.results}
    assert results["Booked, and it shows"]["passed"], results["Booked, and it shows"]["checks"]
    hours = results["Only asks the hours"]
    assert [c["passed"] for c in hours["checks"]] == [False, False], hours["checks"]
    assert hours["checks"][0]["detail"].startswith("not a success: ")
    assert hours["checks"][1]["detail"].startswith("extracted otherwise: when (")
