"""Transfers end to end: daphne, the offline agent with a `transfer_call` tool, and
Twilio's REST API and network simulated at the wire (the twilio SDK calls it; it follows the
TwiML we hand it — a conference with hold music, a brief, a new media stream — and posts signed
callbacks). A person who does not pick up sends the caller back to the agent; one who does is
briefed and bridged, and the agent leaves; a cold transfer to a busy line comes back too."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from agents.demo import demo_seed
from agents.models import Agent
from agents.versions import agent_publish
from calls.models import Call, Outcome, Transfer, TransferState
from calls.simulator.carrier import Callee
from tests.daphne_server import daphne_server
from tests.fakes.twilio_rest import FakeTwilioRest
from tools.services import tool_create

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
TOKEN = "e2e-twilio-token"
FRONT_DESK = "+15550107000"
NO_ANSWER_CUSTOMER, ANSWERED_CUSTOMER, COLD_CUSTOMER = (
    "+15550107001", "+15550107002", "+15550107003")
# "0" is the offline agent's key for a person (deterministic, whatever the recogniser hears).
ASKS_FOR_A_PERSON = ["I have a question about my bill", "dtmf: 0", "wait: 6"]


def _place(url: str, api_key: str, agent_id: int, to: str) -> int:
    response = httpx.post(f"{url}/api/v1/calls/", json={"agent": agent_id, "to": to},
                          headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
    response.raise_for_status()
    return response.json()["id"]


def _wait_until(predicate, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_warm_transfer_brings_the_caller_back_then_connects_a_person(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    with FakeTwilioRest(auth_token=TOKEN, transcribe=True) as carrier, daphne_server({
            "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": carrier.account_sid,
            "TWILIO_API_BASE_URL": carrier.base_url, "DIALER_EMBEDDED_CLOCK": "true"}) as url:
        seed = demo_seed(number="+15550100000", base_url=url)
        agent = Agent.objects.get(pk=seed.agent_id)
        tool = tool_create(tenant=agent.tenant, kind="builtin", builtin_name="transfer_call",
                           agent_ids=[agent.pk],
                           builtin_config={"destinations": {"the front desk": FRONT_DESK},
                                           "mode": "warm", "timeout_s": 5})
        agent_publish(tenant=agent.tenant, agent=agent, note="warm transfers")
        # the front desk misses the first transfer, takes the second, is busy for the third
        carrier.callees[FRONT_DESK] = [Callee(kind="no-answer", ring_s=1.0),
                                       Callee(kind="human", linger_s=1.0),
                                       Callee(kind="busy", ring_s=0.5)]
        carrier.callees[NO_ANSWER_CUSTOMER] = Callee(
            kind="human", lines=ASKS_FOR_A_PERSON, lines_after_return=["goodbye"])
        carrier.callees[ANSWERED_CUSTOMER] = Callee(kind="human", lines=ASKS_FOR_A_PERSON)
        carrier.callees[COLD_CUSTOMER] = Callee(
            kind="human", lines=ASKS_FOR_A_PERSON, lines_after_return=["goodbye"])

        first = _place(url, seed.api_key, agent.pk, NO_ANSWER_CUSTOMER)
        _wait_until(lambda: Call.objects.get(pk=first).outcome != "")
        asyncio.run(carrier.wait_idle(timeout_s=30))
        second = _place(url, seed.api_key, agent.pk, ANSWERED_CUSTOMER)
        _wait_until(lambda: Call.objects.get(pk=second).outcome != "")
        asyncio.run(carrier.wait_idle(timeout_s=30))
        # and a cold transfer (Twilio dials from the caller's call) to a busy line
        tool.builtin_config = {**tool.builtin_config, "mode": "cold"}
        tool.save(update_fields=["builtin_config"])
        agent_publish(tenant=agent.tenant, agent=agent, note="cold transfers")
        third = _place(url, seed.api_key, agent.pk, COLD_CUSTOMER)
        _wait_until(lambda: Call.objects.get(pk=third).outcome != "")
        asyncio.run(carrier.wait_idle(timeout_s=30))

    # nobody answered: the caller waited in a conference, then came back to the agent
    call = Call.objects.get(pk=first)
    transfer = Transfer.objects.get(call=call)
    assert transfer.state == TransferState.RETURNED and transfer.person_status == "no-answer"
    caller = carrier.placed[call.call_sid]
    assert caller.streams == 2  # the agent's stream, then the one that brought them back
    updates = [r.value("Twiml") for r in carrier.requests
               if r.resource == "calls.update" and r.sid == call.call_sid and r.value("Twiml")]
    assert "<Conference" in updates[0] and "<Connect><Stream" in updates[1]
    agent_lines = [t.text for t in call.turns.filter(role="agent").order_by("index")]
    assert any(line.startswith("I'm sorry, the front desk didn't pick up") for line in
               agent_lines), agent_lines
    indexes = list(call.turns.order_by("index").values_list("index", flat=True))
    assert indexes == list(range(len(indexes)))  # one transcript, in order
    assert call.outcome in (Outcome.AGENT_ENDED, Outcome.CALLER_HUNG_UP)
    assert {"transfer.dialing", "transfer.on_hold", "transfer.returned"} <= set(
        call.events.values_list("type", flat=True))

    # the second time the person answered, heard the summary, and was bridged
    call = Call.objects.get(pk=second)
    transfer = Transfer.objects.get(call=call)
    assert transfer.state == TransferState.BRIDGED and call.outcome == Outcome.TRANSFERRED
    person = carrier.placed[transfer.person_call_sid]
    # in the agent's voice, with the caller's words (as the offline recogniser heard them)
    briefed = [line for line in person.heard if line.startswith("played ")]
    assert briefed and "question about" in briefed[0].lower(), person.heard
    room = carrier.conferences[transfer.conference]
    assert ("join", call.call_sid) in room.events and ("join", person.sid) in room.events
    assert room.ended.is_set()
    assert carrier.placed[call.call_sid].streams == 1  # the agent never came back

    # cold to a busy line: Twilio asked what next, and the agent came back with an apology
    call = Call.objects.get(pk=third)
    transfer = Transfer.objects.get(call=call)
    assert (transfer.mode, transfer.state, transfer.person_status) == (
        "cold", TransferState.RETURNED, "busy")
    assert carrier.placed[call.call_sid].streams == 2
    assert call.turns.filter(role="agent", text__startswith="I'm sorry, the front desk is on "
                                                            "another call").exists()
    assert dict(carrier.dials)[FRONT_DESK] == 3
