"""Agent versions in the portal: publish from the edit page, history, diff, roll back."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agents.services import agent_update
from agents.versions import agent_publish

pytestmark = pytest.mark.django_db


def test_an_unpublished_agent_says_so_and_publishing_makes_v1_live(owner_client, agent):
    # given an agent that was never published
    edit = owner_client.get(reverse("portal:agent-edit", args=[agent.pk]))
    assert b"Not published yet" in edit.content

    # when its owner publishes it with a note
    response = owner_client.post(reverse("portal:agent-publish", args=[agent.pk]),
                                 {"note": "First cut"}, follow=True)

    # then callers hear v1, and the page says the draft is up to date
    agent.refresh_from_db()
    assert agent.published_version.number == 1
    assert agent.published_version.note == "First cut"
    assert agent.published_version.created_by == owner_client.user
    assert "Published v1" in response.content.decode()
    assert b"up to date" in response.content


def test_an_edit_is_a_draft_change_until_published(owner_client, agent):
    agent_publish(tenant=agent.tenant, agent=agent)
    agent_update(tenant=agent.tenant, agent=agent, greeting="Hello from the new draft.")

    page = owner_client.get(reverse("portal:agent-edit", args=[agent.pk])).content.decode()

    assert "Callers hear <strong>v1</strong>" in page
    assert "unpublished changes" in page
    agent.refresh_from_db()
    assert agent.published_version.snapshot["agent"]["greeting"] != "Hello from the new draft."


def test_history_lists_versions_and_shows_what_changed(owner_client, agent):
    # given two published versions with different greetings
    agent_publish(tenant=agent.tenant, agent=agent, note="Launch")
    agent_update(tenant=agent.tenant, agent=agent, greeting="Welcome back to Acme.")
    agent_publish(tenant=agent.tenant, agent=agent, note="Warmer greeting")

    # when the history is opened, and the changes of v2
    history = owner_client.get(reverse("portal:agent-versions", args=[agent.pk]))
    diff = owner_client.get(reverse("portal:agent-versions", args=[agent.pk]),
                            {"from": 1, "to": 2})

    # then both are listed, v2 is live, and the diff names the greeting on both sides
    page = history.content.decode()
    assert "Launch" in page and "Warmer greeting" in page
    assert "Roll back to v1" in page
    changes = diff.content.decode()
    assert "v1 → v2" in changes
    assert "greeting" in changes and "Welcome back to Acme." in changes


def test_rolling_back_republishes_the_old_version_and_restores_the_draft(owner_client, agent):
    original = agent.greeting
    agent_publish(tenant=agent.tenant, agent=agent)
    agent_update(tenant=agent.tenant, agent=agent, greeting="A greeting that went wrong.")
    agent_publish(tenant=agent.tenant, agent=agent)

    response = owner_client.post(reverse("portal:agent-rollback", args=[agent.pk, 1]),
                                 follow=True)

    agent.refresh_from_db()
    assert agent.published_version.number == 1
    assert agent.greeting == original
    assert "new calls run v1 again" in response.content.decode()


def test_a_version_that_does_not_exist_is_404(owner_client, agent):
    agent_publish(tenant=agent.tenant, agent=agent)

    assert owner_client.post(
        reverse("portal:agent-rollback", args=[agent.pk, 7])).status_code == 404
    assert owner_client.get(reverse("portal:agent-versions", args=[agent.pk]),
                            {"from": 1, "to": "x"}).status_code == 404


def test_a_viewer_sees_history_without_buttons(viewer_client, agent):
    agent_publish(tenant=agent.tenant, agent=agent)
    agent_update(tenant=agent.tenant, agent=agent, greeting="Changed.")

    page = viewer_client.get(reverse("portal:agent-versions", args=[agent.pk])).content.decode()

    assert "v1" in page
    assert ">Publish<" not in page
    assert viewer_client.post(reverse("portal:agent-publish", args=[agent.pk])).status_code == 403


def test_publishing_to_a_share_of_calls_shows_the_rollout_until_it_is_stopped(owner_client,
                                                                              agent):
    from agents.models import Rollout, RolloutStatus

    agent_publish(tenant=agent.tenant, agent=agent)
    agent_update(tenant=agent.tenant, agent=agent, greeting="Hello from the canary.")
    # when the owner publishes the draft to a tenth of new calls
    response = owner_client.post(reverse("portal:agent-publish", args=[agent.pk]),
                                 {"note": "canary", "rollout_percent": "10"}, follow=True)
    page = response.content.decode()
    # then callers still hear v1, and the page shows v2 reaching 10 % of them
    agent.refresh_from_db()
    assert agent.published_version.number == 1
    assert "v2 now reaches 10 % of new calls" in page
    assert "<strong>v2</strong> reaches <strong>10 %</strong> of new calls, v1 the rest" in page
    # a share that is not a step is refused with a message, and nothing changes
    refused = owner_client.post(reverse("portal:agent-publish", args=[agent.pk]),
                                {"rollout_percent": "33"}, follow=True)
    assert "1, 10 or 50 %" in refused.content.decode() and Rollout.objects.count() == 1
    # stopping it puts every new call back on v1
    stopped = owner_client.post(reverse("portal:agent-rollout-stop", args=[agent.pk]),
                                follow=True)
    assert "Stopped the rollout of v2" in stopped.content.decode()
    assert Rollout.objects.get().status == RolloutStatus.ABORTED
    assert "reaches <strong>" not in stopped.content.decode()
