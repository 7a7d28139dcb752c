"""Evaluation suites in audio mode: scenarios as phone calls through the media pipeline in this
process — the caller's lines spoken, the agent's recogniser, brain and voice — judged by the
same checks as text mode; started over the API and played by the evaluation thread (a worker's
task in production)."""

from __future__ import annotations

import pytest

from agents.demo import demo_seed
from agents.models import Agent
from calls.models import Call, Direction
from learning.models import EvalScenario
from learning.tasks import wait_for_in_process_evaluations
from tools.models import ToolExecution

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
KEPT = ("Answers the opening hours", "Books an appointment", "Ends the call on goodbye")


@pytest.fixture
def demo():
    seed = demo_seed(number="+15550100000")
    agent = Agent.objects.get(pk=seed.agent_id)
    agent.eval_scenarios.exclude(name__in=KEPT).delete()  # a few calls keep the test short
    booking = agent.eval_scenarios.get(name="Books an appointment")
    # Generous: the test machine may be busy.
    booking.checks = [*booking.checks, {"type": "max_latency_ms", "ms": 8000}]
    booking.save()
    EvalScenario.objects.create(  # a simulated caller: it answers what it hears the agent ask
        tenant=agent.tenant, agent=agent, name="A busy parent books a check-up",
        goal="Book a check-up next Tuesday morning.",
        branches=[{"say": "I'd like to book a check-up."},
                  {"when": "day and time", "say": "Next Tuesday at ten in the morning."},
                  {"when": "go ahead", "say": "Yes, please."}],
        checks=[{"type": "tool_called", "name": "book_appointment",
                 "arguments": {"when": "T10:00"}}])
    EvalScenario.objects.create(
        tenant=agent.tenant, agent=agent, name="Claims Sunday opening",
        caller_lines=["What are your opening hours?"],
        checks=[{"type": "reply_contains", "text": "open on Sundays"}])
    return agent


def test_an_audio_run_plays_each_scenario_as_a_call_and_judges_it(demo, api_client_for):
    api = api_client_for(demo.tenant)
    url = f"/api/v1/agents/{demo.pk}/evaluate/"
    # when an audio run is started over the API
    started = api.post(url, {"mode": "audio"}, format="json")
    assert started.status_code == 202, started.json()
    assert started.json()["status"] == "running" and started.json()["mode"] == "audio"
    wait_for_in_process_evaluations()
    # then it was played, and each scenario judged on what its call did
    [run] = api.get(f"/api/v1/agents/{demo.pk}/evaluations/").json()["results"]
    assert run["status"] == "done" and (run["passed"], run["failed"]) == (4, 1), [
        (r["scenario"], [c["detail"] for c in r["checks"]], r["caller_lines"], r["replies"])
        for r in run["results"] if not r["passed"]]
    results = {r["scenario"]: r for r in run["results"]}
    claims = results["Claims Sunday opening"]
    assert not claims["passed"]
    assert claims["checks"][0]["detail"] == "no reply mentions “open on Sundays”"
    assert any("Monday to Friday" in reply for reply in claims["replies"])
    booking = results["Books an appointment"]
    assert booking["tool_calls"][0]["name"] == "book_appointment"
    assert "T10:00" in booking["tool_calls"][0]["arguments"]["when"]
    assert len(booking["answer_ms"]) == 3 and max(booking["answer_ms"]) <= 8000
    assert all(r["greeting_ms"] is not None for r in run["results"])
    parent = results["A busy parent books a check-up"]
    assert parent["caller_lines"] == ["I'd like to book a check-up.",
                                      "Next Tuesday at ten in the morning.", "Yes, please."]
    # each scenario was a stored call of its own, kept apart from callers' calls
    calls = Call.objects.filter(pk__in=[r["call_id"] for r in run["results"]])
    assert {c.direction for c in calls} == {Direction.EVAL} and calls.count() == 5
    assert calls.get(pk=results["Ends the call on goodbye"]["call_id"]).outcome == "agent_ended"
    assert {c.agent_version.number for c in calls} == {run["version"]}  # the version tested
    # the booking tool was recorded, never run: a test books nothing
    assert not ToolExecution.objects.exists()


def test_a_run_in_an_unknown_mode_or_without_scenarios_is_refused(demo, api_client_for):
    api = api_client_for(demo.tenant)
    url = f"/api/v1/agents/{demo.pk}/evaluate/"
    assert api.post(url, {"mode": "video"}, format="json").status_code == 400
    demo.eval_scenarios.all().delete()
    refused = api.post(url, {"mode": "audio"}, format="json")
    assert refused.status_code == 400 and "no evaluation scenarios" in \
        refused.json()["error"]["message"]


def test_audio_replay_says_a_recorded_calls_own_audio_to_a_version(demo):
    import asyncio

    from agents.versions import version_for_call
    from calls.simulator.caller import parse_script
    from compliance.models import AuditEvent
    from learning.audio_eval import play_call
    from learning.services import replay_run

    # given a recorded call: a caller asks the hours and says goodbye
    published = demo.published_version
    demo.tenant  # noqa: B018 - loaded before the event loop
    call_id, _, played = asyncio.run(play_call(demo, published, parse_script(
        ["What are your opening hours?", "Thank you, goodbye."])))
    call = Call.objects.get(pk=call_id)
    assert call.recording and played.ended
    # when it is replayed in audio against the same version, and against a draft that forgot
    # the hours
    same = replay_run(tenant=demo.tenant, agent=demo, call_ids=[call_id],
                      version_number=published.number, audio=True)
    knowledge = [{"question": k.question, "answer": k.answer} for k in demo.knowledge.all()
                 if "hours" not in k.question.lower()]
    from agents.services import agent_update

    agent_update(tenant=demo.tenant, agent=demo, knowledge=knowledge)
    forgetful = version_for_call(demo, draft=True)
    changed = replay_run(tenant=demo.tenant, agent=demo, call_ids=[call_id],
                         version_number=forgetful.number, audio=True)
    # then the recording was heard again (and its reading audited): the same version acts as
    # it did, the forgetful one answers otherwise
    assert same[0].mode == "audio" and same[0].caller_turns == 2
    assert same[0].differences == [], same[0]
    assert changed[0].mode == "audio" and changed[0].differences, changed[0]
    assert AuditEvent.objects.filter(action="call.recording_accessed").count() == 2
    replays = Call.objects.filter(direction=Direction.EVAL).exclude(pk=call_id)
    assert replays.count() == 2
