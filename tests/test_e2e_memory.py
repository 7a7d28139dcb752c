"""Memory end to end: two phone calls from one number against a real daphne process. The first
books; the server analyses it in the background; the second is greeted as a returning caller and
the offline agent recalls the booking. Real speech both ways, as in test_e2e_call.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from agents.demo import demo_seed
from calls.models import Call
from calls.simulator.caller import ScriptedCaller, Transcriber, parse_script
from calls.simulator.phone import TwilioPhone
from learning.models import CallAnalysis
from tests.daphne_server import daphne_server

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
TOKEN = "e2e-twilio-token"
CALLER = "+15557654321"


def place_call(base_url: str, number: str, lines: list[str]) -> Call:
    caller = ScriptedCaller(TwilioPhone(base_url, TOKEN), to=number, from_=CALLER,
                            transcriber=Transcriber(), printer=lambda line: None,
                            turn_timeout_s=20)
    report = asyncio.run(caller.run(parse_script(lines)))
    return Call.objects.get(call_sid=report.call_sid)


def test_a_returning_caller_is_greeted_and_their_booking_recalled(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    with daphne_server({"TWILIO_AUTH_TOKEN": TOKEN, "POST_CALL_ANALYSIS": "true"}) as base_url:
        seed = demo_seed(number="+15550100000", base_url=base_url)
        # given a first call that books
        first = place_call(base_url, seed.number, [
            "I would like to book an appointment.", "Monday at ten in the morning.", "Yes.",
            "Thank you, goodbye."])
        deadline = time.monotonic() + 30
        while not CallAnalysis.objects.filter(call=first).exists():
            assert time.monotonic() < deadline, "the first call was never analysed"
            time.sleep(0.2)
        analysis = CallAnalysis.objects.get(call=first)
        assert analysis.success is True, analysis.success_reason
        # when the same number calls again and asks about it
        second = place_call(base_url, seed.number, ["When is my appointment?",
                                                    "Thank you, goodbye."])
    # then the same contact was greeted back and the booking recalled
    assert second.contact_id == first.contact_id
    agent_turns = [t.text for t in second.turns.order_by("index") if t.role == "agent"]
    assert "Welcome back!" in agent_turns[0]
    assert any(text.startswith("From your last call: book appointment")
               for text in agent_turns), [(t.role, t.text) for t in second.turns.order_by("index")]


def test_a_call_dropped_mid_booking_carries_on_when_the_caller_rings_back(settings):
    from calls.models import CallEvent

    settings.TWILIO_AUTH_TOKEN = TOKEN
    with daphne_server({"TWILIO_AUTH_TOKEN": TOKEN, "POST_CALL_ANALYSIS": "false"}) as base_url:
        seed = demo_seed(number="+15550100000", base_url=base_url)
        # given a call that hangs up while the agent asks for the booking's time
        dropped = place_call(base_url, seed.number, ["I would like to book an appointment."])
        # when the caller rings back within the window and answers the question
        back = place_call(base_url, seed.number, ["Monday at ten in the morning.", "Yes.",
                                                  "Thank you, goodbye."])
    # then the call picked up where the first stopped and booked
    greeting = back.turns.order_by("index").first().text
    assert "Welcome back! We got cut off, so let's carry on. What is the day and time" in greeting
    events = {event.type: event.payload for event in CallEvent.objects.filter(call=back)}
    assert events["resumed"] == {"from_call": dropped.pk}
    assert events["tool_calls"]["calls"][0]["name"] == "book_appointment"
