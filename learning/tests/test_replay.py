"""Replay: past calls said again to a version, and where it would act differently."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agents.demo import demo_seed
from agents.models import Agent, KnowledgeEntry
from aybiza.core.errors import ApplicationError
from calls.models import CallEvent, Outcome, Role, Turn
from learning.services import replay_run
from memory.services import contact_for_caller

pytestmark = pytest.mark.django_db


def played_call(agent, caller_lines: list[str]):
    """A finished call of `agent` as its draft answered these caller lines (its turns, tool
    events and outcome recorded as a real call records them)."""
    from agents.versions import runnable, version_for_call
    from learning.evaluation import play_lines

    played = play_lines(agent, runnable(version_for_call(agent, draft=True), agent),
                        caller_lines)
    turns = [(Role.AGENT, "Hello, how can I help?")]
    for line, reply in zip(caller_lines, played.replies, strict=False):
        turns += [(Role.CALLER, line), (Role.AGENT, reply)]
    turns += [(Role.AGENT, reply) for reply in played.replies[len(caller_lines):]]
    return past_call(agent, turns, tools=[c.name for c in played.tool_calls],
                     outcome=Outcome.AGENT_ENDED if played.ended else Outcome.CALLER_HUNG_UP)


def past_call(agent, lines: list[tuple[str, str]], *, tools: list[str], outcome: str):
    """A finished call of `agent` with these (role, text) turns and `tool_calls` events."""
    from calls.models import Call

    n = Call.objects.count() + 1
    call = Call.objects.create(
        tenant=agent.tenant, agent=agent, call_sid=f"CA{n:032d}", from_number="+15557654321",
        contact=contact_for_caller(tenant=agent.tenant, number="+15557654321"),
        to_number="+15550100000", outcome=outcome)
    for index, (role, text) in enumerate(lines):
        Turn.objects.create(tenant=agent.tenant, call=call, index=index, role=role, text=text)
    if tools:
        CallEvent.objects.create(tenant=agent.tenant, call=call, type="tool_calls", payload={
            "calls": [{"id": f"t{i}", "name": name} for i, name in enumerate(tools)]})
    return call


@pytest.fixture
def demo():
    seed = demo_seed(number="+15550100000", base_url="http://127.0.0.1:9")
    return Agent.objects.get(pk=seed.agent_id)


HOURS = ["What are your opening hours?", "Thank you, goodbye."]
BOOKING = ["I would like to book an appointment.", "Next Tuesday at ten in the morning.",
           "Yes, please."]


def test_a_call_the_draft_would_handle_the_same_shows_no_difference(demo):
    call = played_call(demo, HOURS)
    [replay] = replay_run(tenant=demo.tenant, agent=demo, call_ids=[call.pk])
    assert replay.caller_turns == 2 and replay.differences == []
    assert replay.replayed.ended and replay.original.ended


def test_a_draft_that_lost_its_booking_tool_is_caught(demo):
    call = played_call(demo, BOOKING)
    [before] = replay_run(tenant=demo.tenant, agent=demo, call_ids=[call.pk])
    assert before.replayed.tools == ["book_appointment"] and before.differences == []
    # when the draft no longer has the tool
    demo.tools.clear()
    [after] = replay_run(tenant=demo.tenant, agent=demo, call_ids=[call.pk])
    # then the replay says so
    assert after.differences[0] == "tools: book_appointment → none"


def test_much_longer_answers_are_reported(demo):
    call = played_call(demo, HOURS[:1])
    KnowledgeEntry.objects.filter(agent=demo, question__icontains="hours").update(
        answer="We are open Monday to Friday from nine to five. " * 4)
    [replay] = replay_run(tenant=demo.tenant, agent=demo, call_ids=[call.pk])
    assert replay.differences and replay.differences[0].startswith("longer answers:")


def test_calls_that_are_not_the_agents_are_refused(demo, tenant, agent):
    theirs = past_call(agent, [(Role.CALLER, "Hi")], tools=[], outcome=Outcome.AGENT_ENDED)
    with pytest.raises(ApplicationError) as refused:
        replay_run(tenant=demo.tenant, agent=demo, call_ids=[theirs.pk])
    assert str(theirs.pk) in refused.value.message


def test_the_api_replays_the_latest_calls_against_the_draft(demo, api_client_for):
    played_call(demo, HOURS)
    played_call(demo, BOOKING)
    client = api_client_for(demo.tenant)
    url = reverse("agent-replay", kwargs={"pk": demo.pk})
    response = client.post(url, {}, format="json")
    assert response.status_code == 200, response.json()
    assert len(response.json()) == 2 and all(r["differences"] == [] for r in response.json())
    assert client.post(url, {"calls": [10**6]}, format="json").status_code == 400
    assert client.post(url, {"version": 99}, format="json").status_code == 404


def test_the_command_prints_each_call_and_fails_when_one_would_differ(demo, capsys):
    from django.core.management import call_command

    played_call(demo, BOOKING)
    call_command("replay", "--agent", str(demo.pk))
    assert "0 of 1 would go differently." in capsys.readouterr().out
    demo.tools.clear()
    with pytest.raises(SystemExit) as failed:
        call_command("replay", "--agent", str(demo.pk))
    assert failed.value.code == 1
    assert "tools: book_appointment → none" in capsys.readouterr().out


def test_publishing_a_draft_that_would_handle_recent_calls_worse_is_refused(demo, settings):
    from agents.gates import EvaluationFailed
    from agents.services import agent_update
    from agents.versions import agent_publish
    from compliance.models import AuditEvent

    settings.REPLAY_GATE_MIN_CALLS = 5
    demo.eval_scenarios.all().delete()  # the suite's own gate is tested elsewhere
    assert demo.published_version is not None
    booked = [played_call(demo, BOOKING) for _ in range(3)]
    for _ in range(3):
        played_call(demo, HOURS)
    # a draft that changes nothing these callers needed publishes
    agent_update(tenant=demo.tenant, agent=demo, greeting="Hi, Acme Dental here!")
    assert agent_publish(tenant=demo.tenant, agent=demo).number == 2
    # one that lost the booking tool would no longer book for 3 of 6 callers: refused
    demo.tools.clear()
    with pytest.raises(EvaluationFailed) as refused:
        agent_publish(tenant=demo.tenant, agent=demo)
    assert "on 3 the published version handles as it happened (50 % net" in refused.value.message
    assert "tools: book_appointment → none" in refused.value.message
    assert sorted(refused.value.extra["replay_regressions"]) == sorted(c.pk for c in booked)
    demo.refresh_from_db()
    assert demo.published_version.number == 2
    # an owner may publish anyway, and the log says so
    assert agent_publish(tenant=demo.tenant, agent=demo, override_evaluation=True).number == 3
    assert AuditEvent.objects.filter(action="agent.publish_overrode_evaluation").exists()


def test_the_replay_gate_waits_for_enough_calls(demo, settings):
    from agents.versions import agent_publish

    settings.REPLAY_GATE_MIN_CALLS = 5
    demo.eval_scenarios.all().delete()
    for _ in range(4):
        played_call(demo, BOOKING)
    demo.tools.clear()
    assert agent_publish(tenant=demo.tenant, agent=demo).number == 2  # 4 calls: no verdict
