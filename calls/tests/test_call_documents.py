"""A live call answers from the agent's knowledge documents: the caller's words are searched as
they are said, through the consumer and the database, and the passage reaches the brain."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from agents.documents import document_add
from calls.tests.session_harness import SILENCE, SPEECH
from calls.tests.test_call_resume import hung_up
from calls.tests.test_consumer import (  # noqa: F401 - fixtures, used by name
    _wiring,
    call,
    connect,
    refreshed,
    turns_of,
    update_agent,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

HANDBOOK = (b"# Parking\n\nFree parking is behind the clinic, entrance on Elm Street.\n\n"
            b"# Insurance\n\nWe accept Delta Dental and Cigna plans.\n")


async def one_question(stored_call) -> None:
    """A call in which the caller says their one scripted line after the greeting, then hangs
    up."""
    phone, connected = await connect(stored_call)
    assert connected
    await phone.start()
    await phone.send_audio(SILENCE, 1.2)  # the greeting plays
    await phone.send_audio(SPEECH, 0.4)
    await phone.send_audio(SILENCE, 2.0)  # the answer plays
    await phone.stop()
    await hung_up(phone)


async def test_the_offline_agent_answers_from_a_document_passage(call):  # noqa: F811
    await database_sync_to_async(document_add)(
        tenant=call.tenant, agent=call.agent, filename="Handbook.md", data=HANDBOOK)
    await update_agent(call, llm_provider="offline",
                       provider_options={"stt": {"lines": ["where can I park my car"]}})
    await one_question(call)

    stored = await refreshed(call)
    turns = await database_sync_to_async(turns_of)(stored)
    assert turns[1][:2] == ("caller", "where can I park my car")
    assert turns[2][:2] == ("agent", "Free parking is behind the clinic, entrance on Elm Street.")


async def test_a_document_uploaded_after_publishing_waits_for_the_next_publish(
        call):  # noqa: F811
    from agents.models import Agent
    from agents.versions import agent_publish

    await update_agent(call, llm_provider="offline",
                       provider_options={"stt": {"lines": ["where can I park my car"]}})
    version = await database_sync_to_async(lambda: agent_publish(
        tenant=call.tenant, agent=Agent.objects.get(pk=call.agent_id)))()
    await database_sync_to_async(document_add)(
        tenant=call.tenant, agent=call.agent, filename="Handbook.md", data=HANDBOOK)
    from calls.models import Call

    await database_sync_to_async(
        lambda: Call.objects.filter(pk=call.pk).update(agent_version=version))()
    await one_question(call)

    turns = await database_sync_to_async(turns_of)(await refreshed(call))
    assert "Free parking" not in turns[2][1]  # the published version has no documents yet
