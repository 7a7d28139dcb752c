"""`manage.py seed_demo`: a callable demo in one command, safe to run again."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from agents.demo import DEMO_AGENT, DEMO_KNOWLEDGE
from agents.models import Agent, KnowledgeEntry, PhoneNumber
from agents.services import phone_number_create
from aybiza.core.models import ApiKey, Membership, Role, Tenant
from aybiza.core.services import api_key_create


def _seed(*args: str) -> tuple[str, dict]:
    out = io.StringIO()
    call_command("seed_demo", "--json", *args, stdout=out)
    text = out.getvalue()
    return text, json.loads(text.strip().splitlines()[-1])


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.mark.django_db
def test_seed_creates_a_live_offline_agent_on_the_demo_number():
    # when
    text, result = _seed()
    # then the last line is JSON with what a script needs, and the rest says it for people
    assert set(result) >= {"username", "password", "api_key", "agent_id", "number"}
    assert result["username"] == "demo"
    assert result["number"] == "+15550100000"
    assert f"Password: {result['password']}" in text
    assert f"API key:  {result['api_key']}" in text
    # the tenant, its owner and the agent
    tenant = Tenant.objects.get(name="Demo")
    user = authenticate(username="demo", password=result["password"])
    assert user is not None
    assert Membership.objects.get(user=user, tenant=tenant).role == Role.OWNER
    agent = Agent.objects.get(pk=result["agent_id"], tenant=tenant)
    assert agent.name == "Demo Receptionist"
    assert (agent.stt_provider, agent.llm_provider, agent.tts_provider) == (
        "pocketsphinx", "offline", "hibari")
    assert agent.status == "live"
    assert agent.greeting and agent.system_prompt
    questions = " ".join(agent.knowledge.values_list("question", flat=True)).lower()
    for topic in ["hours", "address", "price"]:
        assert topic in questions
    assert agent.knowledge.count() >= 4
    # the number routes to it
    number = PhoneNumber.objects.get(e164="+15550100000")
    assert (number.tenant_id, number.agent_id) == (tenant.id, agent.id)
    # the restaurant and the help desk answer their own numbers
    assert set(result["agents"]) == {"dental", "restaurant", "helpdesk"}
    for key, e164 in (("restaurant", "+15550100001"), ("helpdesk", "+15550100002")):
        assert PhoneNumber.objects.get(e164=e164).agent_id == result["agents"][key]
    assert "Demo Bistro" in text and "Demo IT Help Desk" in text
    # and the key works against the API
    agents = _client(result["api_key"]).get("/api/v1/agents/").json()["results"]
    assert sorted(a["id"] for a in agents) == sorted(result["agents"].values())


@pytest.mark.django_db
def test_rerun_reuses_everything_but_rotates_password_and_key():
    # given a seeded demo, a key the demo owner made, and an edited agent
    _, first = _seed()
    tenant = Tenant.objects.get(name="Demo")
    own_key = api_key_create(tenant=tenant, name="my integration")
    Agent.objects.filter(pk=first["agent_id"]).update(greeting="Edited", status="draft")
    # when it runs again
    _, second = _seed()
    # then the same rows are reused, brought back to the demo content
    assert Tenant.objects.filter(name="Demo").count() == 1
    assert second["agent_id"] == first["agent_id"]
    assert Agent.objects.filter(tenant=tenant).count() == 3
    agent = Agent.objects.get(pk=second["agent_id"])
    assert agent.greeting == DEMO_AGENT["greeting"]
    assert agent.status == "live"
    assert KnowledgeEntry.objects.filter(agent=agent).count() == len(DEMO_KNOWLEDGE)
    assert PhoneNumber.objects.filter(tenant=tenant).count() == 3
    # the password was reset: the new one works, the old one does not
    assert second["password"] != first["password"]
    assert authenticate(username="demo", password=second["password"]) is not None
    assert authenticate(username="demo", password=first["password"]) is None
    # the previous seed key is revoked, the new one works, the owner's own key is untouched
    assert second["api_key"] != first["api_key"]
    assert _client(first["api_key"]).get("/api/v1/agents/").status_code == 401
    assert _client(second["api_key"]).get("/api/v1/agents/").status_code == 200
    assert ApiKey.objects.get(pk=own_key.api_key.pk).revoked_at is None
    assert ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True).count() == 2


@pytest.mark.django_db
def test_number_option_binds_another_number():
    _, result = _seed("--number", "+1 (555) 010-0199")
    assert result["number"] == "+15550100199"
    assert PhoneNumber.objects.get(e164="+15550100199").agent_id == result["agent_id"]


@pytest.mark.django_db
def test_a_number_of_another_tenant_is_refused(other_tenant):
    # given the number belongs to someone else
    phone_number_create(tenant=other_tenant, e164="+15550100000")
    # when / then
    with pytest.raises(CommandError, match="another tenant"):
        call_command("seed_demo", stdout=io.StringIO())
    assert PhoneNumber.objects.get(e164="+15550100000").tenant_id == other_tenant.id
    assert not Tenant.objects.filter(name="Demo").exists()  # all or nothing


@pytest.mark.django_db
def test_an_invalid_number_is_refused():
    with pytest.raises(CommandError, match="phone number"):
        call_command("seed_demo", "--number", "12345", stdout=io.StringIO())


@pytest.mark.django_db
def test_without_json_flag_output_is_for_people_only():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "Password:" in out.getvalue()
    assert not out.getvalue().strip().splitlines()[-1].startswith("{")


@pytest.mark.django_db
def test_a_rerun_puts_back_the_end_of_turn_an_experiment_changed():
    # given a demo agent left with the silence-only end of turn (an interrupted make eval)
    _, first = _seed()
    Agent.objects.filter(pk=first["agent_id"]).update(smart_end_of_turn=False)

    # when the demo is seeded again
    _seed()

    # then it answers with the demo's own end of turn again, in its published version too
    agent = Agent.objects.get(pk=first["agent_id"])
    assert agent.smart_end_of_turn is True
    latest = agent.versions.order_by("-number").first()
    assert latest.snapshot["agent"]["smart_end_of_turn"] is True
