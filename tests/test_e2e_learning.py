"""Learning end to end, on the production shape: daphne, a real Celery worker on Redis, the
offline agent, real speech both ways, the REST API as a member's script would use it.

Twenty callers ask the demo clinic something it cannot answer; the worker analyses each call;
the learning job (sent to the worker as beat sends it) proposes a knowledge entry whose evidence
is those calls; a member accepts it with an answer and — in the same draft — binds a tool whose
endpoint is broken; the draft passes its suite and replay and is published to 10 % of new calls;
new calls split by the hash of their sid; the canary's calls meet the failing tool, and the
rollout job (on the worker, as beat runs it) rolls it back: every new call is on the stable
version again, and the audit log tells each step.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import httpx
import pytest
from django.conf import settings as django_settings

from agents.demo import demo_seed
from agents.models import Agent, Rollout, RolloutStatus
from agents.rollouts import bucket
from agents.versions import version_for_call
from calls.models import Call, Role
from calls.simulator.caller import ScriptedCaller, parse_script
from calls.simulator.phone import TwilioPhone, new_sid
from compliance.models import AuditEvent
from learning.models import CallAnalysis, Suggestion
from tests.celery_worker import celery_worker
from tests.daphne_server import daphne_server
from tools.models import ToolExecution

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not django_settings.REDIS_URL,
                       reason="needs Redis (REDIS_URL): run through `make test`"),
]
TOKEN = "e2e-twilio-token"
# What the offline recogniser hears right, with words the agent's knowledge does not cover
# (since its phone-line adaptation it hears "What about teeth whitening?" as "where that …").
QUESTION = "Can I get teeth whitening?"
ANSWER = "Yes, teeth whitening is three hundred dollars a session."
ASKERS = 20
AT_ONCE = 5
# Each caller cuts the agent short (as callers do): the calls last seconds, not half a minute.
ASKER_SCRIPT = [f"barge 600: {QUESTION}", "barge 600: Thank you, goodbye."]
LATER_SCRIPT = [f"barge 600: {QUESTION}", "I want to check my coverage.",
                "barge 600: Thank you, goodbye."]
WAIT_S = 90.0
_numbers = (f"+1555030{n:04d}" for n in itertools.count())


def wait_for(what: str, ready: Callable[[], object], timeout_s: float = WAIT_S) -> object:
    deadline = time.monotonic() + timeout_s
    while not (found := ready()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
    return found


async def _call(base_url: str, number: str, lines: list[str], call_sid: str) -> str:
    caller = ScriptedCaller(TwilioPhone(base_url, TOKEN), to=number, from_=next(_numbers),
                            transcriber=None, turn_timeout_s=25, printer=lambda line: None)
    report = await caller.run(parse_script(lines), call_sid=call_sid)
    return report.call_sid


def place_calls(base_url: str, number: str, lines: list[str], sids: list[str]) -> list[Call]:
    """One call per sid, AT_ONCE at a time; each returned once the server has closed it."""

    async def all_of_them() -> list[str]:
        limit = asyncio.Semaphore(AT_ONCE)

        async def one(sid: str) -> str:
            async with limit:
                return await _call(base_url, number, lines, sid)

        return await asyncio.gather(*(one(sid) for sid in sids))

    placed = asyncio.run(all_of_them())
    wait_for("the calls to close", lambda: Call.objects.filter(
        call_sid__in=placed).exclude(outcome="").count() == len(placed))
    return list(Call.objects.filter(call_sid__in=placed).order_by("id"))


def _unheard(calls: list[Call], evidence: list[int]) -> dict[int, object]:
    """What the calls left out of the evidence recorded: to tell a mishearing from a deaf call."""
    return {call.pk: (call.outcome, list(call.turns.values_list("role", "text", "start_ms")),
                      list(call.events.values_list("type", "offset_ms", "payload")))
            for call in calls if call.pk not in evidence}


def sids_in(share: Callable[[int], bool], n: int) -> list[str]:
    """`n` fresh call sids whose rollout bucket satisfies `share`."""
    found: list[str] = []
    while len(found) < n:
        sid = new_sid("CA")
        if share(bucket(sid)):
            found.append(sid)
    return found


def test_unanswered_calls_become_a_canary_that_is_rolled_back_when_its_tool_fails(
        settings, monkeypatch):
    from aybiza import celery_app
    from learning.tasks import advance_rollouts, run_learning_jobs

    settings.TWILIO_AUTH_TOKEN = TOKEN
    # Tasks go to the broker, to the worker, as in production (the app read its conf already).
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    with celery_worker({"TWILIO_AUTH_TOKEN": TOKEN, "POST_CALL_ANALYSIS": "true"}), \
            daphne_server({"TWILIO_AUTH_TOKEN": TOKEN, "POST_CALL_ANALYSIS": "true",
                           "CELERY_TASK_ALWAYS_EAGER": "false"}) as base_url:
        seed = demo_seed(number="+15550100000", base_url=base_url)
        agent = Agent.objects.get(pk=seed.agent_id)
        stable = agent.published_version
        seeded = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
        api = httpx.Client(base_url=base_url + "/api/v1",
                           headers={"Authorization": f"Bearer {seed.api_key}"}, timeout=120)

        # given twenty callers asking what the clinic's agent cannot answer
        askers = place_calls(base_url, seed.number, ASKER_SCRIPT,
                             [new_sid("CA") for _ in range(ASKERS)])
        assert all(call.agent_version_id == stable.pk for call in askers)
        wait_for("the worker's analyses", lambda: CallAnalysis.objects.filter(
            call__in=askers).count() == ASKERS)

        # when the learning job runs on the worker, as beat sends it nightly
        run_learning_jobs.delay()
        suggestion = wait_for("a suggestion", lambda: Suggestion.objects.filter(
            agent=agent, kind="knowledge_entry").first())
        # then it proposes the question, with the calls it was asked on as its evidence (the
        # recogniser, busy with five calls on two cores, may mishear one now and then)
        heard = {call.pk: " ".join(call.turns.filter(role=Role.CALLER).values_list(
            "text", flat=True)) for call in askers}
        evidence = suggestion.evidence["calls"]
        assert suggestion.proposal["question"].lower().startswith("can i get teeth whitening")
        assert len(evidence) >= ASKERS - 3 and suggestion.evidence["count"] == len(evidence), \
            (heard, _unheard(askers, evidence))
        # grouped by topic words: a misheard "teeth whiting" still asks the same
        assert all("teeth" in heard[pk] or "whiten" in heard[pk] for pk in evidence), heard

        # a member accepts it with an answer and, in the same draft, binds a broken tool
        accepted = api.post(f"/suggestions/{suggestion.pk}/accept/", json={"answer": ANSWER})
        assert accepted.status_code == 200, accepted.text
        tool = api.post("/tools/", json={
            "name": "check_coverage", "description": "Check the caller's insurance coverage.",
            "kind": "http", "method": "POST", "timeout_ms": 3000, "idempotent": True,
            "url_template": base_url + "/demo/calendar/coverage/",  # no such endpoint: 404
            "parameters": {"type": "object", "properties": {}},
            "trigger_phrases": ["check my coverage"], "agent_ids": [agent.pk]})
        assert tool.status_code == 201, tool.text
        # the draft passes its suite and replay, and is published to a tenth of new calls
        published = api.post(f"/agents/{agent.pk}/publish/",
                             json={"rollout_percent": 10, "note": "teeth whitening"})
        assert published.status_code == 201, published.text
        candidate = agent.versions.get(number=published.json()["number"])
        rollout = Rollout.objects.get(agent=agent, status=RolloutStatus.ACTIVE)
        assert (rollout.candidate, rollout.stable, rollout.percent) == (candidate, stable, 10)
        agent.refresh_from_db()
        assert agent.published_version == stable  # the rest of the callers hear no change

        # new calls split by the hash of their sid
        canary_sids, stable_sids = sids_in(lambda b: b < 10, 5), sids_in(lambda b: b >= 10, 2)
        later = place_calls(base_url, seed.number, LATER_SCRIPT, canary_sids + stable_sids)
        by_sid = {call.call_sid: call for call in later}
        assert all(by_sid[sid].agent_version == candidate for sid in canary_sids)
        assert all(by_sid[sid].agent_version == stable for sid in stable_sids)
        # the canary answers the new entry, and meets its broken tool
        canary_said = " ".join(by_sid[canary_sids[0]].turns.filter(role=Role.AGENT)
                               .values_list("text", flat=True))
        assert ANSWER in canary_said
        failed = ToolExecution.objects.filter(call__in=[by_sid[s] for s in canary_sids],
                                              tool_name="check_coverage", status="failed")
        assert failed.count() == len(canary_sids)

        # when the rollout job runs on the worker, as beat sends it every five minutes
        advance_rollouts.delay()
        wait_for("the rollback", lambda: Rollout.objects.filter(
            pk=rollout.pk, status=RolloutStatus.ROLLED_BACK).exists())

    # then every new call is on the stable version again, and the audit log tells each step
    rollout.refresh_from_db()
    assert "error rate 100.0% over 5 calls" in rollout.history[-1]["why"]
    assert all(version_for_call(agent, call_sid=sid) == stable
               for sid in sids_in(lambda b: b < 10, 20))
    steps = list(AuditEvent.objects.filter(tenant_id=seed.tenant_id, id__gt=seeded).exclude(
        action__regex=r"^(call|consent)\.").order_by("id").values_list("action", flat=True))
    assert steps == ["suggestion.accepted", "tool.created", "agent.rollout_started",
                     "agent.rollout_rolled_back"], steps
