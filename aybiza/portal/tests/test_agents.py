"""Agents pages: list, create, edit with knowledge inline."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agents.models import Agent, KnowledgeEntry

pytestmark = pytest.mark.django_db


def agent_post(**overrides) -> dict:
    """A full agent form as the browser sends it, with one knowledge row."""
    data = {
        "name": "Front desk", "status": "draft", "greeting": "Hi there!",
        "system_prompt": "Be kind.",
        "language": "en-US", "voice": "", "stt_provider": "pocketsphinx", "llm_provider": "offline",
        "tts_provider": "hibari", "llm_model": "", "end_of_turn_silence_ms": "700",
        "barge_in_min_speech_ms": "250", "reprompt_after_s": "8", "hangup_after_s": "25",
        "max_call_seconds": "1800", "reprompt_text": "Still there?", "goodbye_text": "Bye!",
        "resume_window_minutes": "30", "timezone": "UTC", "business_hours": "",
        "outbound_greeting": "", "voicemail_message": "",
        "recording_mode": "on", "recording_disclosure": "Recorded.", "consent_prompt": "Ok?",
        "knowledge-TOTAL_FORMS": "1", "knowledge-INITIAL_FORMS": "0",
        "knowledge-MIN_NUM_FORMS": "0", "knowledge-MAX_NUM_FORMS": "500",
        "knowledge-0-question": "Do you take walk-ins?", "knowledge-0-answer": "Yes, mornings.",
    }
    data.update(overrides)
    return data


def test_new_tenant_sees_the_empty_state_with_a_next_step(owner_client):
    # when a tenant without agents opens the list
    response = owner_client.get(reverse("portal:agents"))

    # then it says so and links to creating one
    assert response.status_code == 200
    assert b"No agents yet" in response.content
    assert reverse("portal:agent-new").encode() in response.content


def test_list_shows_only_the_tenants_agents_in_bounded_queries(
        owner_client, agent, other_agent, django_assert_max_num_queries):
    # given one agent here and one in another tenant, plus more to rule out N+1
    from agents.services import agent_create
    for n in range(5):
        agent_create(tenant=agent.tenant, name=f"Agent {n}", knowledge=[
            {"question": "q?", "answer": "a."}])

    # when the list is rendered
    with django_assert_max_num_queries(6):
        response = owner_client.get(reverse("portal:agents"))

    # then our agents are listed and the other tenant's is not
    assert b"Reception" in response.content and b"Agent 4" in response.content
    assert b"Globex line" not in response.content


def test_create_calls_the_service_and_stores_the_knowledge_entry(owner_client, tenant):
    # when the form is posted
    response = owner_client.post(reverse("portal:agent-new"), agent_post())

    # then the agent and its knowledge are stored for this tenant, and the edit page follows
    agent = Agent.objects.get(tenant=tenant, name="Front desk")
    assert response.status_code == 302
    assert response.url == reverse("portal:agent-edit", args=[agent.pk])
    assert list(agent.knowledge.values_list("question", "answer")) == [
        ("Do you take walk-ins?", "Yes, mornings.")]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "", b"This field is required"),
    ("end_of_turn_silence_ms", "-5", b"greater than or equal to"),
    ("max_call_seconds", "99999999999999999999", b"less than or equal to"),
    ("system_prompt", "x" * 20_001, b"at most 20000 characters"),
    ("stt_provider", "nope", b"Select a valid choice"),
])
def test_bad_input_is_shown_at_the_field_and_nothing_is_saved(
        owner_client, tenant, field, value, message):
    # when a field is wrong
    response = owner_client.post(reverse("portal:agent-new"), agent_post(**{field: value}))

    # then the page comes back with the error next to that field, and no agent exists
    assert response.status_code == 200
    assert message in response.content
    assert f'id="id_{field}_errors"'.encode() in response.content
    assert not Agent.objects.filter(tenant=tenant).exists()


def test_half_a_knowledge_entry_is_an_error_at_its_field(owner_client, tenant):
    response = owner_client.post(reverse("portal:agent-new"),
                                 agent_post(**{"knowledge-0-answer": ""}))

    assert response.status_code == 200
    assert b"Give the answer to this question." in response.content
    assert b'id="id_knowledge-0-answer_errors"' in response.content


def test_words_callers_say_are_one_per_line_and_errors_stay_at_the_field(owner_client, tenant):
    # given keywords typed one per line, with blank lines and spaces
    owner_client.post(reverse("portal:agent-new"), agent_post(
        name="Help desk", recognition_keywords="VPN\n\n  Demo Connect \nlaptop\n"))
    agent = Agent.objects.get(tenant=tenant, name="Help desk")
    assert agent.recognition_keywords == ["VPN", "Demo Connect", "laptop"]
    # and shown back one per line on the edit page
    page = owner_client.get(reverse("portal:agent-edit", args=[agent.pk]))
    assert "VPN\nDemo Connect\nlaptop</textarea>" in page.content.decode()

    # when one is too long, the error is at the field and nothing changes
    response = owner_client.post(reverse("portal:agent-edit", args=[agent.pk]), agent_post(
        name="Help desk", recognition_keywords="k" * 61))
    assert response.status_code == 200
    assert "at most 60 characters" in response.context["form"].errors["recognition_keywords"][0]
    agent.refresh_from_db()
    assert agent.recognition_keywords == ["VPN", "Demo Connect", "laptop"]


def test_unicode_is_kept(owner_client, tenant):
    owner_client.post(reverse("portal:agent-new"), agent_post(name="Zoë 🦷 受付"))

    assert Agent.objects.filter(tenant=tenant, name="Zoë 🦷 受付").exists()


def test_edit_shows_the_knowledge_and_saves_changes(owner_client, agent,
                                                    django_assert_max_num_queries):
    url = reverse("portal:agent-edit", args=[agent.pk])
    # given the edit page, in bounded queries (two of them: whether the agent has an
    # evaluation suite, for the owner's publish override; its running rollout, if any)
    with django_assert_max_num_queries(9):
        page = owner_client.get(url)
    assert b"What are your opening hours?" in page.content

    # when the greeting changes, the first entry is deleted and a new one is added
    response = owner_client.post(url, agent_post(**{
        "name": "Reception", "greeting": "Welcome to Acme!",
        "knowledge-TOTAL_FORMS": "3", "knowledge-INITIAL_FORMS": "2",
        "knowledge-0-question": "What are your opening hours?",
        "knowledge-0-answer": "We are open Monday to Friday, nine to five.",
        "knowledge-0-DELETE": "on",
        "knowledge-1-question": "Where are you located?",
        "knowledge-1-answer": "We are at 12 Main Street.",
        "knowledge-2-question": "Do you park?", "knowledge-2-answer": "Behind the building.",
    }))

    # then the agent is updated through the service
    agent.refresh_from_db()
    assert response.status_code == 302
    assert agent.greeting == "Welcome to Acme!"
    assert list(KnowledgeEntry.objects.filter(agent=agent).values_list("question", flat=True)) \
        == ["Where are you located?", "Do you park?"]


def test_another_tenants_agent_is_not_found(owner_client, other_agent):
    url = reverse("portal:agent-edit", args=[other_agent.pk])

    assert owner_client.get(url).status_code == 404
    response = owner_client.post(url, agent_post(name="Hijacked"))
    assert response.status_code == 404
    other_agent.refresh_from_db()
    assert other_agent.name == "Globex line"


def test_viewer_reads_but_cannot_write(viewer_client, agent, tenant):
    # the edit page is readable, with the form disabled and no save button
    page = viewer_client.get(reverse("portal:agent-edit", args=[agent.pk]))
    assert page.status_code == 200
    assert b"disabled" in page.content and b"Save changes" not in page.content

    # and every write is refused
    assert viewer_client.get(reverse("portal:agent-new")).status_code == 403
    assert viewer_client.post(reverse("portal:agent-new"), agent_post()).status_code == 403
    response = viewer_client.post(reverse("portal:agent-edit", args=[agent.pk]),
                                  agent_post(name="Renamed"))
    assert response.status_code == 403
    agent.refresh_from_db()
    assert agent.name == "Reception"
    assert not Agent.objects.filter(tenant=tenant, name="Front desk").exists()


def test_edit_lists_the_tools_bound_to_the_agent(owner_client, agent, other_agent):
    from tools.services import tool_create
    tool_create(tenant=agent.tenant, name="book_visit", description="Book a visit.",
                url_template="https://example.com/", agent_ids=[agent.pk])
    tool_create(tenant=agent.tenant, name="unrelated", description="Not bound.",
                url_template="https://example.com/")

    body = owner_client.get(reverse("portal:agent-edit", args=[agent.pk])).content.decode()

    assert "book_visit" in body and "unrelated" not in body


def test_the_voice_sample_is_the_greeting_in_the_agents_voice(owner_client, viewer_client,
                                                               agent):
    # given an agent on the (tone-speaking) test voice
    from agents.services import agent_update
    agent_update(tenant=agent.tenant, agent=agent, tts_provider="instant")
    url = reverse("portal:agent-sample", args=[agent.pk])

    response = owner_client.get(url)

    # then it is a WAV of the greeting, for viewers too
    import io
    import wave
    assert response["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (8000, 1)
        assert wav.getnframes() > 8000 * 0.5
    assert viewer_client.get(url).status_code == 200
    assert b'src="' + url.encode() in owner_client.get(
        reverse("portal:agent-edit", args=[agent.pk])).content


def test_a_voice_that_cannot_be_built_answers_503_not_500(owner_client, agent):
    # provider options are set through the admin (not a service field)
    Agent.objects.filter(pk=agent.pk).update(tts_provider="instant",
                                             provider_options={"tts": {"no_such_option": 1}})

    response = owner_client.get(reverse("portal:agent-sample", args=[agent.pk]))

    assert response.status_code == 503


def test_another_tenants_voice_sample_is_not_found(owner_client, other_agent):
    assert owner_client.get(reverse("portal:agent-sample",
                                    args=[other_agent.pk])).status_code == 404


def test_the_agent_page_offers_a_browser_test_call_to_those_who_may_edit(
        owner_client, viewer_client, agent):
    # given the agent's page
    url = reverse("portal:agent-edit", args=[agent.pk])
    talk = reverse("portal:agent-talk", args=[agent.pk])
    # then writers get "Talk to this agent", viewers do not (the call would act for the tenant)
    assert talk.encode() in owner_client.get(url).content
    assert talk.encode() not in viewer_client.get(url).content
    assert viewer_client.get(talk).status_code == 403


def test_the_talk_page_names_its_socket_and_suggests_questions(owner_client, agent):
    from agents.services import knowledge_replace

    knowledge_replace(tenant=agent.tenant, agent=agent,
                      entries=[{"question": "Do you take new patients?", "answer": "Yes."}])
    response = owner_client.get(reverse("portal:agent-talk", args=[agent.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-socket-path="/ws/portal/agents/{agent.pk}/talk/"' in page
    assert "Do you take new patients?" in page
    assert 'src="/static/portal/talk.js"' in page and 'id="talk-start"' in page
    # a keypad of the twelve phone keys, each labelled, off until the call connects
    assert [page.count(f'data-digit="{key}" disabled aria-label="Key {key}"')
            for key in "123456789*0#"] == [1] * 12
