"""A whole phone call against a real daphne process: the simulator plays Twilio and the caller.

Real everything: signed webhook over HTTP, signed WebSocket handshake, real-time 20 ms µ-law
frames of synthesized speech, the offline speech stack on the server (pocketsphinx, the offline
brain, hibari), marks echoed like Twilio, the agent's audio transcribed back.
"""

from __future__ import annotations

import asyncio

import pytest

from agents.demo import demo_seed
from aybiza.server.shapes import FAST_PATH_ENV, env_enabled
from calls.models import Call, Outcome
from calls.simulator.caller import ScriptedCaller, Transcriber, parse_script
from calls.simulator.phone import DialError, TwilioPhone
from tests.daphne_server import UPGRADED_LIBRARIES, daphne_server

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
TOKEN = "e2e-twilio-token"


@pytest.fixture
def server(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    with daphne_server({"TWILIO_AUTH_TOKEN": TOKEN}) as base_url:
        yield base_url


def _the_demo_call(base_url: str) -> None:
    seed = demo_seed(number="+15550100000")
    phone = TwilioPhone(base_url, TOKEN)
    caller = ScriptedCaller(phone, to=seed.number, from_="+15557654321",
                            transcriber=Transcriber(), printer=lambda line: None,
                            turn_timeout_s=20)
    steps = parse_script(["What are your opening hours?", "Thank you, goodbye."])

    report = asyncio.run(caller.run(steps))

    agent_turns = [t for t in report.turns if t.who == "agent"]
    assert len(agent_turns) >= 3  # greeting, the answer, the goodbye
    assert all(t.latency_ms is not None and t.latency_ms < 5000 for t in agent_turns[1:])
    assert report.marks_echoed >= 3
    call = Call.objects.get(call_sid=report.call_sid)
    assert call.outcome in (Outcome.AGENT_ENDED, Outcome.CALLER_HUNG_UP)
    turns = list(call.turns.order_by("index"))
    assert turns[0].role == "agent" and "Hello, thanks for calling" in turns[0].text
    caller_words = " ".join(t.text for t in turns if t.role == "caller").lower()
    assert "hours" in caller_words or "open" in caller_words
    answer = " ".join(t.text for t in turns if t.role == "agent").lower()
    assert "monday to friday" in answer
    assert call.recording.name.endswith(".wav.enc")


def test_the_demo_call_runs_end_to_end_and_is_stored(server):
    _the_demo_call(server)


@pytest.mark.skipif(not env_enabled(FAST_PATH_ENV),
                    reason="the fast path is off already: nothing to fall back from")
def test_upgraded_server_libraries_give_one_warning_and_a_working_call(settings):
    # Newer Channels and daphne whose internals moved: the fast path stands down as a whole.
    settings.TWILIO_AUTH_TOKEN = TOKEN
    log: list[str] = []
    with daphne_server({"TWILIO_AUTH_TOKEN": TOKEN}, launcher=UPGRADED_LIBRARIES,
                       log_lines=log) as base_url:
        _the_demo_call(base_url)
    warnings = [line for line in log if "AYBIZA server fast path" in line]
    assert len(warnings) == 1 and "channels AsyncConsumer.__call__" in warnings[0]


def test_a_call_to_an_unknown_number_is_refused_politely(server):
    phone = TwilioPhone(server, TOKEN)

    with pytest.raises(DialError, match="no <Connect><Stream>"):
        asyncio.run(phone.dial(to="+15550199999", from_="+15557654321"))


def test_a_forged_webhook_is_rejected(server):
    phone = TwilioPhone(server, "not-the-token")

    with pytest.raises(DialError, match="403"):
        asyncio.run(phone.dial(to="+15550100000", from_="+15557654321"))
