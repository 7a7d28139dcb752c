"""Tool calls of a live call run by a real `celery worker` process, over a real Redis.

The call runs here through the consumer (deterministic speech doubles, a scripted brain); its tool
call goes to the broker, a worker process runs the HTTP tool against a local server and sends
`tool.result` over the Redis channel layer back to the consumer. Killing the worker mid-run shows
what Celery's late acknowledgement buys: the task comes back (after the visibility timeout) to a
replacement worker, which repeats an idempotent tool once and refuses to repeat any other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from channels.db import database_sync_to_async
from django.conf import settings as django_settings

from aybiza import celery_app
from calls.models import Call, Turn
from calls.realtime.providers import registry
from calls.realtime.providers.llm.base import Conversation, ToolCall
from calls.realtime.providers.llm.instant import InstantLLM
from calls.services import call_start
from calls.tests.session_harness import SILENCE, SPEECH, EnergyVAD
from calls.tests.test_consumer import PUBLIC, TOKEN, Twilio, connect, refreshed, turns_of
from tests.celery_worker import CeleryWorker, celery_worker
from tools.execution import INTERRUPTED_MESSAGE
from tools.models import ExecutionStatus, Tool, ToolExecution
from tools.services import tool_create, tool_network_allowlist_set
from tools.tests.conftest import TargetServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.asyncio,
    pytest.mark.skipif(not django_settings.REDIS_URL,
                       reason="needs Redis (REDIS_URL): run through `make test`"),
]
# A killed worker's task comes back after this long; short, so the test is too.
VISIBILITY_TIMEOUT_S = 5
# The order service's first answer outlives the worker that asked (cut short at teardown).
HOLD_FIRST_REQUEST_S = 10.0
ANSWER = {"status": "shipped on Tuesday"}
CALL_TIMEOUT_S = 25.0


class ToolAskingLLM(InstantLLM):
    """The `instant` brain asking for `tool` on every caller turn, then saying its result."""

    def __init__(self, tool: str) -> None:
        super().__init__(reply=say_tool_result, tool_calls=[ToolCall("", tool, {})])


def say_tool_result(conversation: Conversation) -> str:
    [result] = conversation.messages[-1].tool_results
    if result.is_error:
        return f"Sorry. {result.content}"
    return f"Your order {result.content['status']}."


@pytest.fixture(autouse=True)
def _wiring(settings, monkeypatch):
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_ACCOUNT_SID = ""
    # Tool calls go to the broker, as in production; the Celery app read its conf already.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setitem(registry.STT_PROVIDERS, "scripted",
                        "calls.tests.session_harness.ScriptedSTT")
    monkeypatch.setitem(registry.TTS_PROVIDERS, "words", "calls.tests.session_harness.WordTTS")
    monkeypatch.setitem(registry.LLM_PROVIDERS, "asks_tool", f"{__name__}.ToolAskingLLM")
    monkeypatch.setattr("calls.realtime.loader.build_vad", lambda **options: EnergyVAD())


@pytest.fixture
def worker(transactional_db) -> Iterator[CeleryWorker]:
    with celery_worker({"CELERY_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S)}) as started:
        yield started


@pytest.fixture
def orders() -> Iterator[TargetServer]:
    with TargetServer() as server:
        yield server


@pytest.fixture
def call(agent, phone_number) -> Call:
    agent.stt_provider = "scripted"
    agent.llm_provider = "asks_tool"
    agent.tts_provider = "words"
    agent.greeting = "Hello, you are through to Acme."
    agent.recording_disclosure = ""
    agent.end_of_turn_silence_ms = 200
    agent.barge_in_min_speech_ms = 120
    agent.provider_options = {"stt": {"lines": ["where is my order"]},
                              "llm": {"tool": "order_status"}}
    agent.save()
    return call_start(tenant=agent.tenant, phone_number=phone_number, call_sid="CA" + "1" * 32,
                      from_number="+15557654321", to_number=phone_number.e164)


def runs_the_current_draft(call: Call) -> None:
    """The call runs the agent as it is now (a call runs the version it started with, and the
    tool was bound after the `call` fixture started it)."""
    from agents.versions import version_for_call

    Call.objects.filter(pk=call.pk).update(agent_version=version_for_call(call.agent))


@pytest.fixture
def order_tool(tenant, agent, orders) -> Callable[..., Tool]:
    tool_network_allowlist_set(tenant=tenant, entries=["127.0.0.1"])  # the local order service

    def make(**fields: Any) -> Tool:
        return tool_create(tenant=tenant, name="order_status", description="Where an order is.",
                           url_template=orders.url("/orders"), filler_text="Let me check.",
                           max_retries=0, agent_ids=[agent.id], **fields)

    return make


def holding_the_first_request(
        orders: TargetServer, answer: dict[str, Any],
) -> Callable[[web.Request, bytes], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request, body: bytes) -> web.StreamResponse:
        if len(orders.requests) == 1:
            await orders.pause(HOLD_FIRST_REQUEST_S)
        return web.json_response(answer)

    return handler


async def caller_asks(call: Call) -> Twilio:
    phone, connected = await connect(call)
    assert connected
    await phone.start()
    await phone.send_audio(SILENCE, 1.2)  # the greeting plays
    await phone.send_audio(SPEECH, 0.4)  # "where is my order"
    return phone


async def stay_on_the_line(phone: Twilio, until: Callable[[], Awaitable[bool]],
                           what: str, timeout_s: float = CALL_TIMEOUT_S) -> None:
    """Keep streaming silence (and echoing marks) until `until()` is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await until():
        if loop.time() > deadline:
            raise AssertionError(f"waited {timeout_s} s for {what}")
        await phone.send_audio(SILENCE, 0.2)


async def hang_up(phone: Twilio) -> None:
    await phone.stop()
    await phone.wait_closed()
    await phone.ws.disconnect(timeout=3)


def agent_said(call: Call, words: str) -> Callable[[], Awaitable[bool]]:
    return database_sync_to_async(
        Turn.objects.filter(call=call, role="agent", text__contains=words).exists)


async def stored_turns(call: Call) -> list[tuple[str, str, bool]]:
    return await database_sync_to_async(turns_of)(await refreshed(call))


def consumer_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the call's consumer complained about, e.g. its channel layer failing to receive."""
    return [record.getMessage() for record in caplog.records
            if record.name == "calls.consumers" and record.levelno >= logging.WARNING]


async def the_execution(call: Call) -> ToolExecution:
    return await database_sync_to_async(ToolExecution.objects.get)(call=call)


def requests_reached(orders: TargetServer, count: int) -> Callable[[], Awaitable[bool]]:
    async def reached() -> bool:
        return len(orders.requests) >= count

    return reached


async def test_a_live_call_asks_for_a_tool_and_hears_its_result(call, orders, order_tool,
                                                                worker, caplog):
    # given an order service and the agent's tool calling it
    orders.reply("POST", "/orders", json=ANSWER)
    await database_sync_to_async(order_tool)()
    await database_sync_to_async(runs_the_current_draft)(call)
    # when the caller asks, and waits for the answer
    phone = await caller_asks(call)
    await stay_on_the_line(phone, agent_said(call, "shipped on Tuesday"), "the answer")
    await hang_up(phone)
    # then the worker process ran the tool and the call spoke its result
    assert worker.tasks_succeeded("tools.run_tool_call") == 1, worker.log()
    assert await stored_turns(call) == [
        ("agent", "Hello, you are through to Acme.", False),
        ("caller", "where is my order", False),
        ("agent", "Let me check. Your order shipped on Tuesday.", False),
    ]
    assert len(orders.requests) == 1
    execution = await the_execution(call)
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.attempts == 1
    assert execution.result == ANSWER
    assert consumer_warnings(caplog) == []


@pytest.mark.parametrize(("idempotent", "requests", "status", "result", "heard"), [
    pytest.param(True, 2, ExecutionStatus.SUCCEEDED, ANSWER, "Your order shipped on Tuesday.",
                 id="idempotent-runs-again-once"),
    pytest.param(False, 1, ExecutionStatus.FAILED, INTERRUPTED_MESSAGE,
                 f"Sorry. {INTERRUPTED_MESSAGE}", id="not-idempotent-is-not-repeated"),
])
async def test_killing_the_worker_mid_run_redelivers_the_tool_call_once(
        call, orders, order_tool, worker, caplog, idempotent, requests, status, result, heard):
    # given a tool whose service is slow to answer the first time
    orders.route("POST", "/orders", holding_the_first_request(orders, ANSWER))
    await database_sync_to_async(order_tool)(idempotent=idempotent)
    await database_sync_to_async(runs_the_current_draft)(call)
    # when the caller asks, and the worker running the tool dies mid-request
    phone = await caller_asks(call)
    await stay_on_the_line(phone, requests_reached(orders, 1), "the tool's request")
    worker.kill()
    # and a replacement worker starts
    worker.start()
    # then the task comes back to it once: it runs an idempotent tool again, and reports any
    # other as interrupted rather than act twice; either way the caller hears the outcome
    await stay_on_the_line(phone, agent_said(call, heard), repr(heard))
    await hang_up(phone)
    assert len(orders.requests) == requests, worker.log()
    assert worker.tasks_succeeded("tools.run_tool_call") == 1, worker.log()
    execution = await the_execution(call)
    assert (execution.status, execution.result) == (status, result)
    assert (await stored_turns(call))[-1] == ("agent", f"Let me check. {heard}", False)
    assert consumer_warnings(caplog) == []
