"""Input that used to answer 500: each is now a 400 that says what is wrong (issues 21 #7, 22 #8).

Every request here goes through the whole stack (parser, serializers, the error handler) with a
write key, as a client would send it.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

HUGE = [2**63, 2**70]


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


@pytest.mark.parametrize("query", [*(f"agent={n}" for n in HUGE), "agent=-1", "agent=abc"])
def test_call_filters_refuse_ids_no_row_can_have(api, query):
    response = api.get(f"/api/v1/calls/?{query}")
    assert response.status_code == 400
    assert "agent" in _error(response)["fields"]


@pytest.mark.parametrize("query", [f"{name}={n}" for name in ("tool", "call") for n in HUGE])
def test_tool_execution_filters_refuse_ids_no_row_can_have(api, query):
    assert api.get(f"/api/v1/tool-executions/?{query}").status_code == 400


def test_binding_a_tool_to_an_impossible_agent_id_is_a_400(api):
    response = api.post("/api/v1/tools/", {
        "name": "lookup", "description": "d", "url_template": "https://example.com/",
        "method": "GET", "agent_ids": [2**63]}, format="json")
    assert response.status_code == 400
    assert "agent_ids" in _error(response)["fields"]


@pytest.mark.parametrize(("body", "says"), [
    ("[" * 50_000 + "]" * 50_000, "nested deeper than 32 levels"),
    ('{"name": "\\ud800"}', "unpaired surrogate"),
    ('{"name": "a\\u0000b"}', "NUL character"),
    ('{"name": NaN}', "NaN is not a number"),
    ('{"name": "x", "reprompt_after_s": 1e999}', "too large a number"),
    ('{"name": ', "JSON parse error"),
])
def test_bodies_that_cannot_be_stored_or_parsed_are_a_400_that_says_why(api, body, says):
    response = api.generic("POST", "/api/v1/agents/", body, content_type="application/json")
    assert response.status_code == 400
    assert says in _error(response)["message"]


def test_a_tool_schema_nested_400_levels_is_refused(api):
    schema: dict = {"type": "string"}
    for _ in range(400):
        schema = {"type": "object", "properties": {"a": schema}}
    response = api.post("/api/v1/tools/", {
        "name": "deep", "description": "d", "url_template": "https://example.com/",
        "method": "POST", "body_mode": "json", "parameters": schema}, format="json")
    assert response.status_code == 400


def test_brackets_inside_strings_do_not_count_as_nesting(api):
    response = api.post("/api/v1/agents/", {"name": "Brackets", "system_prompt": "[" * 100},
                        format="json")
    assert response.status_code == 201


def test_patching_knowledge_without_a_question_is_a_400_and_changes_nothing(api, agent):
    before = list(agent.knowledge.values_list("question", "answer"))

    response = api.patch(f"/api/v1/agents/{agent.pk}/", {"knowledge": [{"answer": "Yes."}]},
                         format="json")

    assert response.status_code == 400
    assert _error(response)["fields"]["knowledge"]["0"] == {
        "question": ["This field is required."]}
    assert list(agent.knowledge.values_list("question", "answer")) == before


@pytest.mark.parametrize("query, status", [
    ("?limit=271658079672427217555036132838735872", 200),  # capped to the largest page
    ("?limit=5&offset=-878973952443", 200),  # ignored: the first page
    ("?offset=100000000000000000000000000", 400),
])
def test_huge_pagination_numbers_are_a_page_or_a_clear_400(api, query, status):
    response = api.get("/api/v1/contacts/" + query)
    assert response.status_code == status, response.content[:300]
    if status == 400:
        assert "offset" in response.json()["error"]["fields"]
