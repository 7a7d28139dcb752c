"""The "instant" test doubles are for tests and the bench, never for a real caller in production."""

from __future__ import annotations

import pytest

from calls.realtime.providers import registry

BODY = {"name": "Front desk", "greeting": "Hi.", "system_prompt": "Be brief.",
        "stt_provider": "pocketsphinx", "llm_provider": "offline", "tts_provider": "hibari"}


@pytest.mark.parametrize("kind", ["stt", "llm", "tts"])
def test_with_the_setting_off_a_fake_provider_is_a_400_naming_the_setting(api, settings, kind):
    settings.FAKE_PROVIDERS_ENABLED = False

    response = api.post("/api/v1/agents/", {**BODY, f"{kind}_provider": "instant"},
                        format="json")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert "FAKE_PROVIDERS_ENABLED" in error["message"]
    assert list(error["fields"]) == [f"{kind}_provider"]


def test_with_the_setting_off_an_existing_agent_cannot_switch_to_a_fake(api, agent, settings):
    settings.FAKE_PROVIDERS_ENABLED = False

    response = api.patch(f"/api/v1/agents/{agent.id}/", {"llm_provider": "instant"},
                         format="json")

    assert response.status_code == 400 and "FAKE_PROVIDERS_ENABLED" in response.content.decode()
    agent.refresh_from_db()
    assert agent.llm_provider != "instant"


def test_with_the_setting_off_a_stored_fake_is_not_built_for_a_call(settings):
    settings.FAKE_PROVIDERS_ENABLED = False

    with pytest.raises(ValueError, match="FAKE_PROVIDERS_ENABLED"):
        registry.build_provider("tts", "instant")


def test_with_the_setting_on_the_fakes_are_selectable(api, settings):
    settings.FAKE_PROVIDERS_ENABLED = True

    response = api.post("/api/v1/agents/", {**BODY, "llm_provider": "instant"}, format="json")

    assert response.status_code == 201, response.content


def test_production_settings_have_the_fakes_off():
    import ast
    from pathlib import Path

    from django.conf import settings

    source = (Path(settings.BASE_DIR) / "aybiza" / "settings" / "prod.py").read_text()
    assigned = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Assign)
                and any(getattr(t, "id", "") == "FAKE_PROVIDERS_ENABLED" for t in node.targets)]
    assert assigned and "default=False" in ast.unparse(assigned[0].value)
