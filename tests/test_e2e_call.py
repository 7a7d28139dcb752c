"""A whole phone call against a real daphne process: the simulator plays Twilio and the caller.

Real everything: signed webhook over HTTP, signed WebSocket handshake, real-time 20 ms µ-law
frames of synthesized speech, the offline speech stack on the server (pocketsphinx, the offline
brain, hibari), marks echoed like Twilio, the agent's audio transcribed back.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from asgiref.sync import sync_to_async

from agents.demo import demo_seed
from aybiza.server.shapes import FAST_PATH_ENV, env_enabled
from calls.consumers import CLOSE_SHUTTING_DOWN
from calls.models import Call, Outcome, Turn
from calls.simulator.caller import ScriptedCaller, Transcriber, parse_script
from calls.simulator.phone import DialError, TwilioPhone
from tests.daphne_server import UPGRADED_LIBRARIES, daphne_server

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
TOKEN = "e2e-twilio-token"


METRICS_TOKEN = "e2e-metrics-token"


@pytest.fixture
def server(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    with daphne_server({"TWILIO_AUTH_TOKEN": TOKEN, "METRICS_TOKEN": METRICS_TOKEN}) as base_url:
        yield base_url


def scrape(base_url: str) -> dict[tuple[str, tuple], float]:
    """The server's /metrics as an operator's Prometheus reads it."""
    from prometheus_client.parser import text_string_to_metric_families

    response = httpx.get(f"{base_url}/metrics", timeout=10,
                         headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples}


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

    # and the server's /metrics counted it: started, ended, each answer's voice-to-voice time,
    # no call left active, the pacer's ticks measured
    found = scrape(server)
    assert found[("aybiza_calls_started_total", (("direction", "inbound"),))] == 1
    assert sum(value for (name, _), value in found.items()
               if name == "aybiza_calls_ended_total") == 1
    assert found[("aybiza_turn_stage_seconds_count", (("stage", "first_frame"),))] >= 2
    assert found[("aybiza_active_calls", ())] == 0
    assert found[("aybiza_pacer_tick_lag_seconds_bucket", (("le", "+Inf"),))] > 100


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


def test_sigterm_mid_call_ends_it_as_server_shutdown_with_transcript_and_sealed_recording(
        settings, tmp_path: Path):
    # given a live call on a real daphne process whose temporary files go to their own folder
    settings.TWILIO_AUTH_TOKEN = TOKEN
    server_tmp = tmp_path / "server-tmp"
    server_tmp.mkdir()
    processes: list[subprocess.Popen] = []
    with daphne_server({"TWILIO_AUTH_TOKEN": TOKEN, "TMPDIR": str(server_tmp)},
                       processes=processes) as base_url:
        seed = demo_seed(number="+15550100000")
        caller = ScriptedCaller(TwilioPhone(base_url, TOKEN), to=seed.number,
                                from_="+15557654321", transcriber=Transcriber(),
                                printer=lambda line: None, turn_timeout_s=20)
        steps = parse_script(["What are your opening hours?", "wait: 20"])

        @sync_to_async
        def answered() -> bool:
            return Turn.objects.filter(role="agent", text__icontains="monday").exists()

        async def terminate_after_the_answer() -> None:
            while not await answered():  # the server has stored the agent's answer
                await asyncio.sleep(0.1)
            signalled.append(time.monotonic())
            processes[0].send_signal(signal.SIGTERM)  # what a deploy or autoscaler sends

        async def call_and_terminate():
            stopper = asyncio.create_task(terminate_after_the_answer())
            try:
                return await asyncio.wait_for(caller.run(steps), timeout=60)
            finally:
                stopper.cancel()

        # when the server is told to stop while the caller is still on the line
        signalled: list[float] = []
        report = asyncio.run(call_and_terminate())
        hung_up = time.monotonic()
        assert processes[0].wait(timeout=30) == 0
    # then the caller was let go at once (not after the 20 s wait), and the call is closed as
    # server_shutdown with its transcript and its recording sealed, nothing left in the clear
    assert signalled and hung_up - signalled[0] < 10
    assert report.close_code == CLOSE_SHUTTING_DOWN
    call = Call.objects.get(call_sid=report.call_sid)
    assert call.outcome == Outcome.SERVER_SHUTDOWN
    assert call.ended_at is not None and call.status == "completed"
    agent_words = " ".join(t.text for t in call.turns.filter(role="agent")).lower()
    assert "monday to friday" in agent_words
    assert call.recording.name.endswith(".wav.enc")
    # (onnxruntime, under the voice, leaves its 51-byte session id `.ses` there: not ours)
    assert [p.name for p in server_tmp.iterdir() if p.name != ".ses"] == []
