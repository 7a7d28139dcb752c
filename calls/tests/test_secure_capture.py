"""PCI-safe card capture: keypad digits reach the payment tool's request and nothing else.

A whole call through the consumer: the brain asks for a payment tool whose card number is a
secure-capture argument; the call prompts for the keypad, the caller keys the number, the tool
(a real HTTP request to a local server, run in-process) is charged with it.
"""

from __future__ import annotations

import json
import logging

import pytest
from channels.db import database_sync_to_async
from django.apps import apps
from django.conf import settings as django_settings
from django.db import models

from calls.realtime.providers import registry
from calls.realtime.secure_capture import secure_digits_valid
from calls.realtime.serializers.twilio import twilio_dtmf
from calls.services import call_start
from calls.tests.session_harness import SILENCE, SPEECH, EnergyVAD
from calls.tests.test_consumer import PUBLIC, TOKEN, connect, refreshed, turns_of
from tools.services import tool_create, tool_network_allowlist_set
from tools.tests.conftest import TargetServer

pytestmark = pytest.mark.django_db(transaction=True)
CARD = "4111111111111111"


class PaymentBrain:
    """Asks for the payment tool once, then speaks its result."""

    name = "payment-brain"

    async def respond(self, conversation):
        from calls.realtime.providers.llm.base import Done, TextDelta, ToolCall

        last = conversation.messages[-1]
        if last.role == "user":
            yield ToolCall("pay-1", "take_payment", {"amount": "42.00"})
            yield Done(stop_reason="tool_use")
            return
        content = last.tool_results[0].content
        message = content.get("message") if isinstance(content, dict) else str(content)
        yield TextDelta(message)
        yield Done()


@pytest.fixture(autouse=True)
def _wiring(settings, monkeypatch):
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_ACCOUNT_SID = ""
    monkeypatch.setitem(registry.STT_PROVIDERS, "scripted",
                        "calls.tests.session_harness.ScriptedSTT")
    monkeypatch.setitem(registry.TTS_PROVIDERS, "words", "calls.tests.session_harness.WordTTS")
    monkeypatch.setitem(registry.LLM_PROVIDERS, "payment",
                        "calls.tests.test_secure_capture.PaymentBrain")
    monkeypatch.setattr("calls.realtime.loader.build_vad", lambda **options: EnergyVAD())
    from aybiza.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def gateway():
    with TargetServer() as server:
        server.reply("POST", "/charges", json={"message": "Payment of 42 dollars approved."})
        yield server


@pytest.fixture
def call(agent, phone_number, gateway):
    agent.stt_provider, agent.llm_provider, agent.tts_provider = "scripted", "payment", "words"
    agent.greeting = ""
    agent.recording_disclosure = "Calls are recorded."
    agent.end_of_turn_silence_ms = 200
    agent.provider_options = {"stt": {"lines": ["I want to pay my bill"]}}
    agent.save()
    tool_network_allowlist_set(tenant=agent.tenant, entries=["127.0.0.1"])
    tool_create(
        tenant=agent.tenant, agent_ids=[agent.id], name="take_payment",
        description="Charge the caller's card.", kind="http", method="POST",
        url_template=gateway.url("/charges"), idempotent=False,
        parameters={"type": "object", "required": ["amount", "card_number"],
                    "properties": {"amount": {"type": "string"},
                                   "card_number": {"type": "string"}}},
        secure_capture_argument="card_number",
        secure_capture_prompt="Please key in your card number, then press pound.")
    return call_start(tenant=agent.tenant, phone_number=phone_number,
                      call_sid="CA" + "5" * 32, from_number="+15557654321",
                      to_number=phone_number.e164)


@pytest.mark.asyncio
async def test_card_digits_go_only_to_the_payment_tool(call, gateway, caplog):
    caplog.set_level(logging.DEBUG)
    phone, _ = await connect(call)
    await phone.start()
    await phone.send_audio(SILENCE, 0.8)  # the disclosure
    await phone.send_audio(SPEECH, 0.3)
    await phone.send_audio(SILENCE, 1.0)  # the keypad prompt

    for digit in CARD + "#":
        phone.seq += 1
        await phone.ws.send_to(text_data=twilio_dtmf(stream_sid="MZ1", digit=digit,
                                                     sequence=phone.seq))
    await phone.send_audio(SILENCE, 2.5)
    await phone.stop()
    await phone.ws.wait(timeout=5)

    # The gateway was charged with the card.
    charges = [r for r in gateway.requests if r.path == "/charges"]
    assert len(charges) == 1 and json.loads(charges[0].body)["card_number"] == CARD
    # The caller heard the prompt and then the tool's answer.
    stored = await refreshed(call)
    spoken = " ".join(text for role, text, _ in await database_sync_to_async(turns_of)(stored)
                      if role == "agent")
    assert "key in your card number" in spoken and "approved" in spoken
    # And the digits are nowhere else: no table, no file, no log line.
    assert await database_sync_to_async(rows_containing)(CARD) == []
    assert not files_containing(CARD.encode())
    assert CARD not in caplog.text
    kinds = await database_sync_to_async(
        lambda: list(stored.events.values_list("type", flat=True)))()
    assert "dtmf" not in kinds
    assert {"secure_capture_started", "secure_capture_ended"} <= set(kinds)


def rows_containing(needle: str) -> list[str]:
    hits = []
    for model in apps.get_models():
        text_fields = [f.name for f in model._meta.get_fields()
                       if isinstance(f, models.TextField | models.CharField | models.JSONField)]
        for row in model.objects.values_list(*text_fields) if text_fields else []:
            if needle in json.dumps(row, default=str):
                hits.append(model.__name__)
    return hits


def files_containing(needle: bytes) -> list[str]:
    root = django_settings.MEDIA_ROOT
    import pathlib

    return [str(path) for path in pathlib.Path(root).rglob("*")
            if path.is_file() and needle in path.read_bytes()]


@pytest.mark.parametrize(
    ("argument", "digits", "valid"),
    [("card_number", CARD, True), ("card_number", "4111111111111112", False),
     ("card_number", "1234", False), ("pin", "1234", True), ("pin", "", False)],
)
def test_keyed_input_is_checked_before_it_is_used(argument, digits, valid):
    assert secure_digits_valid(argument, digits) is valid
