"""The versions page shows whether the agent is getting better."""

from __future__ import annotations

from django.urls import reverse

from agents.versions import agent_publish
from learning.tests.test_improvement import finished


def test_the_versions_page_shows_success_per_version_and_month(tenant, agent, owner_client):
    version = agent_publish(tenant=tenant, agent=agent)
    finished(agent, version, month=11, success=True, seconds=42)
    page = owner_client.get(reverse("portal:agent-versions", args=[agent.pk])).content.decode()
    assert "Is it getting better?" in page and "100.0 %" in page and "2026-11" in page
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title.startswith("Versions of") and "<" not in title
