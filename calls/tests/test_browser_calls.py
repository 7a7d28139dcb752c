"""The browser test call's WebSocket: who may open it, and the call it runs (the same session as a
phone call, its turns also sent live to the page). Real speech in real Chromium runs in
aybiza/portal/tests/test_browser_call.py."""

from __future__ import annotations

import base64
import json

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from aybiza.asgi import application
from aybiza.core.models import Role
from aybiza.core.services import membership_set
from calls.models import Call, Direction, Outcome
from calls.realtime.providers import registry
from calls.tests.session_harness import SILENCE, SPEECH, EnergyVAD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
ORIGIN = (b"origin", b"http://127.0.0.1")


@pytest.fixture(autouse=True)
def _wiring(monkeypatch):
    monkeypatch.setitem(registry.STT_PROVIDERS, "scripted",
                        "calls.tests.session_harness.ScriptedSTT")
    monkeypatch.setitem(registry.TTS_PROVIDERS, "words", "calls.tests.session_harness.WordTTS")
    monkeypatch.setattr("calls.realtime.loader.build_vad", lambda **options: EnergyVAD())


@pytest.fixture
def test_agent(agent):
    agent.stt_provider = "scripted"
    agent.llm_provider = "instant"
    agent.tts_provider = "words"
    agent.greeting = "Hello from the draft."
    agent.recording_disclosure = ""
    agent.end_of_turn_silence_ms = 200
    agent.barge_in_min_speech_ms = 120
    agent.provider_options = {"stt": {"lines": ["what are your hours"]},
                              "llm": {"reply": "We open at nine."}}
    agent.save()
    return agent


def session_cookie(django_user_model, tenant, role: str, name: str = "member") -> bytes:
    user = django_user_model.objects.create_user(name, password="pw-talk-123")
    membership_set(tenant=tenant, user=user, role=role)
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


def talk(agent_id: int, cookie: bytes | None, origin=ORIGIN) -> WebsocketCommunicator:
    headers = [origin] if origin else []
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, f"/ws/portal/agents/{agent_id}/talk/",
                                 headers=headers)


# What the page sends (portal/talk.js): Twilio's media and stop shapes, nothing else.
def page_media(chunk: bytes) -> str:
    return json.dumps({"event": "media", "media": {"payload": base64.b64encode(chunk).decode()}})


PAGE_STOP = json.dumps({"event": "stop"})


async def frames(communicator, chunk: bytes, seconds: float) -> None:
    for _ in range(int(seconds / 0.02)):
        await communicator.send_to(text_data=page_media(chunk))


async def receive_until(communicator, predicate, timeout_s: float = 10.0) -> list[dict]:
    seen = []
    while True:
        message = json.loads(await communicator.receive_from(timeout=timeout_s))
        seen.append(message)
        if predicate(message):
            return seen


async def test_a_member_talks_to_the_draft_and_the_call_is_stored_as_a_browser_call(
        test_agent, tenant, django_user_model):
    # given a member signed in to the portal
    cookie = await _cookie(django_user_model, tenant, Role.MEMBER)
    communicator = talk(test_agent.id, cookie)
    # when they open the test call
    connected, _ = await communicator.connect()
    assert connected
    # then the agent greets (Twilio's media message shape) and the turn arrives as a transcript
    seen = await receive_until(communicator, lambda m: m["event"] == "transcript")
    assert any(m["event"] == "media" for m in seen)
    assert seen[-1]["turn"]["role"] == "agent"
    assert seen[-1]["turn"]["text"] == "Hello from the draft."
    # when the member speaks
    await frames(communicator, SPEECH, 0.6)
    await frames(communicator, SILENCE, 0.6)
    # then their words and the answer arrive, the answer with its latency
    seen = await receive_until(
        communicator, lambda m: m["event"] == "transcript" and m["turn"]["role"] == "agent")
    turns = [m["turn"] for m in seen if m["event"] == "transcript"]
    assert turns[0]["role"] == "caller" and turns[0]["text"] == "what are your hours"
    assert turns[-1]["text"] == "We open at nine."
    assert turns[-1]["latency_ms"]["first_frame_ms"] >= 0
    # when they hang up
    await communicator.send_to(text_data=PAGE_STOP)
    await communicator.wait(timeout=10)
    # then the call is stored like a phone call, marked as a browser call of this agent
    call = await _only_call()
    assert call.direction == Direction.BROWSER and call.call_sid.startswith("BR")
    assert call.agent_id == test_agent.id and call.phone_number_id is None
    assert call.outcome == Outcome.CALLER_HUNG_UP
    assert await _turn_roles(call) == ["agent", "caller", "agent"]


@pytest.mark.parametrize("who", ["anonymous", "viewer", "other_tenant", "foreign_origin"])
async def test_the_test_call_is_refused_to_whoever_may_not_edit_the_agent(
        who, test_agent, tenant, other_tenant, django_user_model):
    # given someone who may not run this agent's test call
    cookie, origin = None, ORIGIN
    if who == "viewer":
        cookie = await _cookie(django_user_model, tenant, Role.VIEWER)
    elif who == "other_tenant":
        cookie = await _cookie(django_user_model, other_tenant, Role.OWNER)
    elif who == "foreign_origin":  # a page elsewhere, riding on the member's cookie
        cookie = await _cookie(django_user_model, tenant, Role.OWNER)
        origin = (b"origin", b"https://evil.example")
    # when they open the socket
    connected, _ = await talk(test_agent.id, cookie, origin).connect()
    # then the handshake is refused and no call exists
    assert not connected
    assert await _call_count() == 0


async def test_garbage_from_the_page_is_counted_not_fatal(test_agent, tenant, django_user_model):
    cookie = await _cookie(django_user_model, tenant, Role.OWNER)
    communicator = talk(test_agent.id, cookie)
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="{not json")
    await communicator.send_to(text_data=page_media(SILENCE))
    await communicator.send_to(text_data=PAGE_STOP)
    await communicator.wait(timeout=10)
    call = await _only_call()
    assert call.outcome == Outcome.CALLER_HUNG_UP
    assert call.metrics["malformed_messages"] == {"bad_json": 1}


# --- database helpers (the consumer runs in the event loop; these in a thread) --------------------
async def _cookie(django_user_model, tenant, role) -> bytes:
    from channels.db import database_sync_to_async

    return await database_sync_to_async(session_cookie)(django_user_model, tenant, role,
                                                        f"{role}-{tenant.slug}")


async def _only_call() -> Call:
    from channels.db import database_sync_to_async

    return await database_sync_to_async(Call.objects.get)()


async def _call_count() -> int:
    from channels.db import database_sync_to_async

    return await database_sync_to_async(Call.objects.count)()


async def _turn_roles(call: Call) -> list[str]:
    from channels.db import database_sync_to_async

    return await database_sync_to_async(
        lambda: list(call.turns.order_by("index").values_list("role", flat=True)))()
