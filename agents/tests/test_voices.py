"""An agent's voice must exist for its TTS provider when it is saved."""

from __future__ import annotations

import pytest

from agents.services import agent_create, agent_update
from aybiza.core.errors import ApplicationError
from calls.realtime.providers.tts.voices import installed_voices

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("provider", "voice", "says"), [
    ("hibari", "klingon", "Unknown hibari voice 'klingon'; the voices installed here: heart"),
    ("hibari", "emma", "not installed"),  # a real hibari voice that does not ship in the wheel
    ("deepgram", "heart", "not a Deepgram Aura voice"),
])
def test_a_voice_the_provider_cannot_speak_is_refused_at_the_field(tenant, provider, voice,
                                                                   says):
    with pytest.raises(ApplicationError) as caught:
        agent_create(tenant=tenant, name="Front desk", tts_provider=provider, voice=voice)
    assert says in caught.value.extra["fields"]["voice"][0]


@pytest.mark.parametrize(("provider", "voice"), [
    ("hibari", ""), ("hibari", "heart"), ("hibari", "american"),
    ("deepgram", "aura-2-thalia-en"), ("deepgram", "aura-asteria-en"), ("espeak", "en-gb")])
def test_voices_that_exist_are_accepted(tenant, provider, voice):
    assert agent_create(tenant=tenant, name="Front desk", tts_provider=provider, voice=voice)


def test_switching_provider_with_a_left_over_voice_is_refused(tenant, agent):
    agent_update(tenant=tenant, agent=agent, tts_provider="deepgram", voice="aura-2-thalia-en")

    with pytest.raises(ApplicationError) as caught:
        agent_update(tenant=tenant, agent=agent, tts_provider="hibari")

    assert "voice" in caught.value.extra["fields"]


def test_only_voices_on_disk_are_listed():
    assert installed_voices() == ["heart"]


def test_the_api_lists_the_voices_an_agent_may_choose(api):
    from calls.realtime.providers.tts.voices import installed_voices

    voices = api.get("/api/v1/voices/").json()
    assert {"provider": "deepgram", "voice": "aura-2-thalia-en"} in voices
    assert [v["voice"] for v in voices if v["provider"] == "hibari"] == installed_voices()
    only = api.get("/api/v1/voices/", {"provider": "hibari"}).json()
    assert {v["provider"] for v in only} <= {"hibari"}


def test_the_voice_list_needs_an_api_key(client):
    assert client.get("/api/v1/voices/").status_code in (401, 403)
