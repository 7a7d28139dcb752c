"""/api/v1/agents/ and /api/v1/phone-numbers/: what a tenant's integration does with them."""

from __future__ import annotations

import pytest

from agents.models import MAX_PROMPT_CHARS, Agent, KnowledgeEntry, PhoneNumber
from agents.services import agent_create, phone_number_create

# --- agents -------------------------------------------------------------------------------------


def test_create_agent_with_knowledge_then_read_it_back(api, tenant):
    # given
    body = {
        "name": "Front desk",
        "greeting": "Hi, you reached Acme.",
        "system_prompt": "Be brief.",
        "stt_provider": "pocketsphinx", "llm_provider": "offline", "tts_provider": "hibari",
        "status": "live",
        "knowledge": [{"question": "Hours?", "answer": "Nine to five."},
                      {"question": "Parking?", "answer": "Behind the building."}],
    }
    # when
    created = api.post("/api/v1/agents/", body, format="json")
    # then
    assert created.status_code == 201, created.content
    agent = created.json()
    assert agent["name"] == "Front desk"
    assert agent["status"] == "live"
    assert [(k["question"], k["answer"]) for k in agent["knowledge"]] == [
        ("Hours?", "Nine to five."), ("Parking?", "Behind the building.")]
    assert agent["end_of_turn_silence_ms"] == 700  # model defaults fill what was not given
    fetched = api.get(f"/api/v1/agents/{agent['id']}/").json()
    assert fetched == agent
    assert Agent.objects.get(pk=agent["id"]).tenant_id == tenant.id
    assert KnowledgeEntry.objects.filter(agent_id=agent["id"], tenant=tenant).count() == 2


def test_put_with_knowledge_replaces_every_entry(api, agent):
    # given an agent with two entries
    old_ids = set(agent.knowledge.values_list("id", flat=True))
    assert len(old_ids) == 2
    # when a full update sends one entry
    response = api.put(f"/api/v1/agents/{agent.id}/", {
        "name": "Reception", "knowledge": [{"question": "Prices?", "answer": "Sixty dollars."}],
    }, format="json")
    # then exactly that entry remains
    assert response.status_code == 200, response.content
    assert [k["question"] for k in response.json()["knowledge"]] == ["Prices?"]
    assert not KnowledgeEntry.objects.filter(id__in=old_ids).exists()
    assert KnowledgeEntry.objects.filter(agent=agent).count() == 1


def test_patch_without_knowledge_keeps_it_and_an_empty_list_clears_it(api, agent):
    # when a partial update leaves knowledge out
    kept = api.patch(f"/api/v1/agents/{agent.id}/", {"greeting": "Hello!"}, format="json")
    # then the entries stay
    assert kept.status_code == 200
    assert kept.json()["greeting"] == "Hello!"
    assert len(kept.json()["knowledge"]) == 2
    # when it sends an empty list
    cleared = api.patch(f"/api/v1/agents/{agent.id}/", {"knowledge": []}, format="json")
    # then they are gone
    assert cleared.json()["knowledge"] == []
    assert not KnowledgeEntry.objects.filter(agent=agent).exists()


def test_delete_agent_unbinds_its_numbers(api, agent, phone_number):
    # when
    response = api.delete(f"/api/v1/agents/{agent.id}/")
    # then the agent is gone and its number stays, answering nobody
    assert response.status_code == 204
    assert api.get(f"/api/v1/agents/{agent.id}/").status_code == 404
    assert api.get(f"/api/v1/phone-numbers/{phone_number.id}/").json()["agent_id"] is None


def test_agents_list_pages_in_name_order(api, tenant):
    for name in ["Charlie", "Alpha", "Bravo"]:
        agent_create(tenant=tenant, name=name)
    page = api.get("/api/v1/agents/", {"limit": 2}).json()
    assert page["count"] == 3
    assert [a["name"] for a in page["results"]] == ["Alpha", "Bravo"]
    second = api.get(page["next"]).json()
    assert [a["name"] for a in second["results"]] == ["Charlie"]


def _assert_field_error(response, *fields: str) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["message"]
    assert set(fields) <= set(error["fields"]), error


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "stt_provider": "whisper-9000"}, "stt_provider"),
        ({"name": "X", "llm_provider": "skynet"}, "llm_provider"),
        ({"name": "X", "tts_provider": ""}, "tts_provider"),
        ({"name": "X", "system_prompt": "p" * (MAX_PROMPT_CHARS + 1)}, "system_prompt"),
        ({"name": "X", "end_of_turn_silence_ms": 50}, "end_of_turn_silence_ms"),
        ({"name": "X", "status": "paused"}, "status"),
        ({"name": "X", "knowledge": [{"question": "Hours?"}]}, "knowledge"),
        ({"name": "X", "knowledge": "not a list"}, "knowledge"),
        ({"name": ""}, "name"),
        ({}, "name"),
        ({"name": "X", "recognition_keywords": "VPN"}, "recognition_keywords"),
        ({"name": "X", "recognition_keywords": ["VPN", " "]}, "recognition_keywords"),
        ({"name": "X", "recognition_keywords": ["k"] * 51}, "recognition_keywords"),
        ({"name": "X", "recognition_keywords": ["k" * 61]}, "recognition_keywords"),
    ],
)
def test_invalid_agent_is_400_naming_the_field(api, body, field):
    response = api.post("/api/v1/agents/", body, format="json")
    _assert_field_error(response, field)
    assert not Agent.objects.exists()


def test_recognition_keywords_are_stored_as_given(api):
    body = {"name": "Help desk", "recognition_keywords": ["VPN", "Demo Connect", "laptop"]}
    created = api.post("/api/v1/agents/", body, format="json")
    assert created.status_code == 201
    read = api.get(f"/api/v1/agents/{created.json()['id']}/").json()
    assert read["recognition_keywords"] == ["VPN", "Demo Connect", "laptop"]


def test_prompt_of_exactly_the_limit_is_accepted(api):
    body = {"name": "Long", "system_prompt": "p" * MAX_PROMPT_CHARS}
    response = api.post("/api/v1/agents/", body, format="json")
    assert response.status_code == 201


def test_invalid_update_changes_nothing(api, agent):
    response = api.patch(f"/api/v1/agents/{agent.id}/",
                         {"greeting": "New", "llm_provider": "nope"}, format="json")
    _assert_field_error(response, "llm_provider")
    agent.refresh_from_db()
    assert agent.greeting == "Hello, thanks for calling Acme Dental."


def test_malformed_json_is_400_not_500(api):
    response = api.generic("POST", "/api/v1/agents/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


# --- phone numbers ------------------------------------------------------------------------------


def test_create_number_normalises_it_and_binds_the_agent(api, agent, tenant):
    # when
    response = api.post("/api/v1/phone-numbers/",
                        {"e164": "+1 (555) 010-0000", "label": "Main", "agent_id": agent.id},
                        format="json")
    # then
    assert response.status_code == 201, response.content
    assert response.json()["e164"] == "+15550100000"
    assert response.json()["agent_id"] == agent.id
    number = PhoneNumber.objects.get(pk=response.json()["id"])
    assert (number.tenant_id, number.e164, number.agent_id) == (tenant.id, "+15550100000",
                                                                agent.id)


def test_update_number_rebinds_and_unbinds(api, tenant, phone_number):
    other_agent = agent_create(tenant=tenant, name="After hours")
    moved = api.patch(f"/api/v1/phone-numbers/{phone_number.id}/", {"agent_id": other_agent.id},
                      format="json")
    assert moved.json()["agent_id"] == other_agent.id
    unbound = api.patch(f"/api/v1/phone-numbers/{phone_number.id}/", {"agent_id": None},
                        format="json")
    assert unbound.status_code == 200
    assert unbound.json()["agent_id"] is None
    renumbered = api.put(f"/api/v1/phone-numbers/{phone_number.id}/",
                         {"e164": "+1 555 010 0042", "label": "New line"}, format="json")
    assert renumbered.json()["e164"] == "+15550100042"
    assert renumbered.json()["label"] == "New line"


def test_delete_number(api, phone_number):
    assert api.delete(f"/api/v1/phone-numbers/{phone_number.id}/").status_code == 204
    assert not PhoneNumber.objects.filter(pk=phone_number.pk).exists()


@pytest.mark.parametrize(
    "e164", ["5550100000", "+1555", "+19999999999", "+1 (555) 010-0000 ext 12345678901", ""])
def test_invalid_number_is_400_naming_e164(api, e164):
    response = api.post("/api/v1/phone-numbers/", {"e164": e164}, format="json")
    _assert_field_error(response, "e164")
    assert not PhoneNumber.objects.exists()


def test_a_number_is_registered_once_across_all_tenants(api, other_tenant):
    # given another tenant owns the number
    phone_number_create(tenant=other_tenant, e164="+15550100000")
    # when this tenant registers it, typed differently
    response = api.post("/api/v1/phone-numbers/", {"e164": "+1 555-010-0000"}, format="json")
    # then
    _assert_field_error(response, "e164")
    assert response.json()["error"]["fields"]["e164"] == ["This number is already registered."]


def test_binding_another_tenants_agent_looks_like_binding_a_missing_one(api, other_tenant):
    # given an agent of another tenant
    foreign = agent_create(tenant=other_tenant, name="Theirs")
    # when this tenant binds a number to it, or to an id that does not exist
    to_foreign = api.post("/api/v1/phone-numbers/",
                          {"e164": "+15550100001", "agent_id": foreign.id}, format="json")
    to_missing = api.post("/api/v1/phone-numbers/",
                          {"e164": "+15550100001", "agent_id": foreign.id + 1000}, format="json")
    # then both are the same field error and nothing is bound
    _assert_field_error(to_foreign, "agent_id")
    assert to_foreign.json() == to_missing.json()
    assert not PhoneNumber.objects.filter(agent=foreign).exists()
