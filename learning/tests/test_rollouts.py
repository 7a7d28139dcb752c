"""Staged rollouts: calls split by a hash of their sid, steps advanced by the candidate's calls,
and an automatic rollback when it errs — each step audited."""

from __future__ import annotations

import itertools

import pytest

from agents.models import Rollout, RolloutStatus
from agents.rollouts import STEPS, bucket, rollout_start
from agents.services import agent_create, agent_update, phone_number_create
from agents.versions import agent_publish, version_for_call
from calls.models import Call, Outcome
from calls.services import call_finish, call_start
from compliance.models import AuditEvent
from learning.rollouts import MIN_CALLS_PER_STEP, decide, rollouts_advance

pytestmark = pytest.mark.django_db


@pytest.fixture
def canary(tenant):
    agent = agent_create(tenant=tenant, name="Desk", greeting="Hello.")
    stable = agent_publish(tenant=tenant, agent=agent)
    agent_update(tenant=tenant, agent=agent, greeting="Hi there, new greeting.")
    candidate = version_for_call(agent, draft=True)
    number = phone_number_create(tenant=tenant, e164="+15550100000", agent_id=agent.id)
    return agent, stable, candidate, number


_sids = itertools.count(1)


def place(tenant, number, n: int, outcome: str = Outcome.AGENT_ENDED,
          only=None) -> list[Call]:
    """Finished calls; `only`: the version they must have run (others are discarded)."""
    calls = []
    while len(calls) < n:
        i = next(_sids)
        call = call_start(tenant=tenant, phone_number=number, call_sid=f"CA{i:032d}",
                          from_number=f"+1555{i % 10**7:07d}", to_number=number.e164)
        if only is not None and call.agent_version_id != only.pk:
            call.delete()
            continue
        calls.append(call_finish(call=call, outcome=outcome))
    return calls


def test_new_calls_split_by_a_hash_of_their_sid(tenant, canary):
    agent, stable, candidate, number = canary
    rollout_start(tenant=tenant, agent=agent, version=candidate, percent=10)
    sids = [f"CA{i:032d}" for i in range(2000)]
    share = sum(version_for_call(agent, call_sid=s) == candidate for s in sids) / len(sids)
    assert 0.08 <= share <= 0.12
    assert all(version_for_call(agent, call_sid=s) == version_for_call(agent, call_sid=s)
               for s in sids[:50])  # the same call always gets the same side
    assert {bucket(s) for s in sids} == set(range(100))
    # a call records the side it ran
    call = call_start(tenant=tenant, phone_number=number, call_sid=sids[0],
                      from_number="+15557654321", to_number=number.e164)
    assert call.agent_version == (candidate if bucket(sids[0]) < 10 else stable)


def test_a_healthy_candidate_advances_step_by_step_and_is_published(tenant, canary):
    agent, stable, candidate, number = canary
    rollout = rollout_start(tenant=tenant, agent=agent, version=candidate, percent=10)
    assert decide(rollout)[0] == "wait"
    for expected in STEPS[2:]:
        rollout.refresh_from_db()
        place(tenant, number, MIN_CALLS_PER_STEP, only=candidate)
        assert rollouts_advance() == [(rollout.pk, "advance")]
        rollout.refresh_from_db()
        assert rollout.percent == expected
    agent.refresh_from_db()
    assert rollout.status == RolloutStatus.COMPLETED and agent.published_version == candidate
    assert [step["percent"] for step in rollout.history] == [10, 50, 100]
    assert AuditEvent.objects.filter(action="agent.rollout_advanced").count() == 2


def test_a_candidate_that_errs_is_rolled_back_automatically(tenant, canary):
    agent, stable, candidate, number = canary
    rollout = rollout_start(tenant=tenant, agent=agent, version=candidate, percent=50)
    place(tenant, number, 4, only=candidate)
    place(tenant, number, 1, outcome=Outcome.ERROR, only=candidate)
    assert rollouts_advance() == [(rollout.pk, "roll_back")]
    rollout.refresh_from_db()
    assert rollout.status == RolloutStatus.ROLLED_BACK and "error rate 20.0%" in \
        rollout.history[-1]["why"]
    # every new call is on the stable version again, which callers still hear
    assert all(version_for_call(agent, call_sid=f"CA{i:032d}") == stable for i in range(50))
    agent.refresh_from_db()
    assert agent.published_version == stable
    assert AuditEvent.objects.filter(action="agent.rollout_rolled_back").exists()


def test_the_api_starts_shows_and_stops_a_rollout(tenant, canary, api):
    agent, stable, candidate, number = canary
    url = f"/api/v1/agents/{agent.pk}/rollout/"
    assert api.get(url).json() == {"rollout": None}
    started = api.post(url, {"version": candidate.number, "percent": 10}, format="json")
    assert started.status_code == 201 and started.json()["percent"] == 10
    assert started.json()["stable"] == stable.number
    published = api.post(url, {"version": stable.number, "percent": 10}, format="json")
    assert published.status_code == 400  # callers already hear it
    agent_update(tenant=tenant, agent=agent, greeting="A third greeting.")
    third = version_for_call(agent, draft=True)
    other = api.post(url, {"version": third.number, "percent": 10}, format="json")
    assert other.status_code == 409  # one rollout at a time
    assert api.post(url, {"version": candidate.number, "percent": 33},
                    format="json").status_code == 400
    assert api.delete(url).status_code == 204
    assert api.get(url).json()["rollout"]["status"] == "aborted"
    assert not Rollout.objects.filter(status=RolloutStatus.ACTIVE).exists()


def test_publishing_to_a_share_of_calls_starts_a_rollout_instead(tenant, canary, api):
    agent, stable, candidate, number = canary
    agent_update(tenant=tenant, agent=agent, greeting="Good morning, the desk.")
    published = api.post(f"/api/v1/agents/{agent.pk}/publish/",
                         {"rollout_percent": 10, "note": "warmer greeting"}, format="json")
    assert published.status_code == 201, published.json()
    agent.refresh_from_db()
    rollout = Rollout.objects.get(status=RolloutStatus.ACTIVE)
    # callers still hear the stable version; a tenth of new calls get the new one
    assert agent.published_version == stable and rollout.stable == stable
    assert rollout.candidate.number == published.json()["number"] and rollout.percent == 10
    assert rollout.candidate.snapshot["agent"]["greeting"] == "Good morning, the desk."
    # publishing the same draft again asks for the running rollout, not a second one
    again = api.post(f"/api/v1/agents/{agent.pk}/publish/", {"rollout_percent": 10},
                     format="json")
    assert again.status_code == 201 and Rollout.objects.count() == 1
    assert api.post(f"/api/v1/agents/{agent.pk}/publish/", {"rollout_percent": 5},
                    format="json").status_code == 400


def test_a_version_that_fails_its_suite_is_not_rolled_out(tenant, canary, api):
    from learning.services import scenario_create

    agent, stable, candidate, number = canary
    scenario_create(tenant=tenant, agent=agent, name="Greets warmly", caller_lines=["Hello?"],
                    checks=[{"type": "reply_contains", "text": "new greeting"}])
    url = f"/api/v1/agents/{agent.pk}/rollout/"
    refused = api.post(url, {"version": candidate.number, "percent": 10}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "evaluation_failed"
    assert "Greets warmly" in refused.json()["error"]["message"]
    refused = api.post(f"/api/v1/agents/{agent.pk}/publish/", {"rollout_percent": 10},
                       format="json")
    assert refused.status_code == 409
    # nothing half-done: no rollout, no new version, the stable one still published
    assert not Rollout.objects.exists()
    assert agent.versions.count() == 2 and agent.versions.order_by("-number")[0] == candidate
    # a key cannot override; an owner can, and the audit log says so
    assert api.post(url, {"version": candidate.number, "percent": 10,
                          "override_evaluation": True}, format="json").status_code == 403
    rollout = rollout_start(tenant=tenant, agent=agent, version=candidate, percent=10,
                            override_evaluation=True)
    assert rollout.status == RolloutStatus.ACTIVE
    assert AuditEvent.objects.filter(action="agent.rollout_overrode_evaluation").exists()


def test_a_canary_whose_tool_fails_is_rolled_back_but_not_for_an_outage_on_both_sides(
        tenant, canary):
    from tools.models import ExecutionStatus, ToolExecution

    agent, stable, candidate, number = canary

    def tool_failed(calls):
        for call in calls:
            ToolExecution.objects.create(tenant=tenant, tool_name="book_appointment", call=call,
                                         status=ExecutionStatus.FAILED)

    rollout = rollout_start(tenant=tenant, agent=agent, version=candidate, percent=50)
    # an outage the stable version meets as much does not count against the candidate
    tool_failed(place(tenant, number, 5, only=candidate))
    tool_failed(place(tenant, number, 5, only=stable))
    assert decide(rollout)[0] == "wait"
    # the candidate's tool failing where stable's does not: rolled back
    place(tenant, number, 5, only=stable)
    assert rollouts_advance() == [(rollout.pk, "roll_back")]
    rollout.refresh_from_db()
    assert "error rate 100.0% over 5 calls (stable 50.0%)" in rollout.history[-1]["why"]
