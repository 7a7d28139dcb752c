"""Every portal URL: anonymous → login, other tenant's ids → 404, viewer → 403 on writes."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from aybiza.core.models import Role
from aybiza.core.services import api_key_create, membership_set
from aybiza.portal.tests.factories import make_call

pytestmark = pytest.mark.django_db

# (url name, needs an object id) for every page behind portal_view.
PAGES = [("portal:home", None), ("portal:agents", None), ("portal:agent-new", None),
         ("portal:agent-edit", "agent"), ("portal:agent-sample", "agent"),
         ("portal:agent-versions", "agent"), ("portal:agent-publish", "agent"),
         ("portal:agent-rollout-stop", "agent"),
         ("portal:agent-talk", "agent"), ("portal:agent-documents", "agent"),
         ("portal:agent-document-delete", "document"),
         ("portal:agent-suggestions", "agent"), ("portal:agent-learn", "agent"),
         ("portal:suggestion-decide", "suggestion"),
         ("portal:agent-rollback", "agent_version"),
         ("portal:calls", None), ("portal:call-detail", "call"),
         ("portal:campaigns", None), ("portal:campaign-new", None),
         ("portal:campaign-detail", "campaign"), ("portal:campaign-control", "campaign"),
         ("portal:campaign-rows", "campaign"), ("portal:campaign-export", "campaign"),
         ("portal:do-not-call", None), ("portal:do-not-call-remove", "contact"),
         ("portal:alerts", None), ("portal:alert-new", None),
         ("portal:alert-edit", "alert_rule"), ("portal:alert-delete", "alert_rule"),
         ("portal:contacts", None), ("portal:contact-detail", "contact"),
         ("portal:contact-forget", "contact"),
         ("portal:numbers", None), ("portal:number-new", None),
         ("portal:number-edit", "number"), ("portal:api-keys", None),
         ("portal:api-key-new", None), ("portal:api-key-revoke", "api_key"),
         ("portal:tools", None), ("portal:tool-new", None), ("portal:tool-edit", "tool"),
         ("portal:tool-try", "tool"), ("portal:team", None), ("portal:team-invite", None),
         ("portal:member-role", "membership"), ("portal:member-remove", "membership"),
         ("portal:invitation-revoke", "invitation"), ("portal:compliance", None),
         ("portal:retention-update", None), ("portal:subject-request", None),
         ("portal:erasure-request-decide", "erasure_request")]
POST_ONLY = {"portal:agent-publish", "portal:agent-rollout-stop", "portal:campaign-control",
             "portal:campaign-rows",
             "portal:do-not-call-remove",
             "portal:agent-document-delete", "portal:agent-learn", "portal:suggestion-decide",
             "portal:alert-delete", "portal:contact-forget",
             "portal:agent-rollback", "portal:api-key-revoke",
             "portal:team-invite", "portal:member-role",
             "portal:member-remove", "portal:invitation-revoke", "portal:retention-update",
             "portal:subject-request", "portal:erasure-request-decide"}
# Not behind portal_view: signing in and out (test_login.py), and accepting an invitation,
# whose link carries its own credential (test_team.py).
ACCOUNT_PAGES = {"portal:login", "portal:logout", "portal:password-change",
                 "portal:password-reset", "portal:password-reset-done",
                 "portal:password-reset-confirm", "portal:password-reset-complete",
                 "portal:switch-tenant", "portal:invitation-accept"}


def test_every_portal_url_is_walked_here():
    from aybiza.portal.urls import urlpatterns

    names = {f"portal:{pattern.name}" for pattern in urlpatterns}

    assert names == {name for name, _ in PAGES} | ACCOUNT_PAGES


@pytest.fixture
def objects_of(agent_create_for):
    """`objects_of(tenant)` → {kind: pk, or the URL's arguments} with one object of each kind
    in that tenant."""

    def make(tenant) -> dict[str, int | tuple[int, ...]]:
        from django.contrib.auth import get_user_model

        from agents.services import phone_number_create
        from agents.versions import agent_publish
        from aybiza.core.services import invitation_create
        from calls.alerts import alert_rule_create
        from compliance.services.erasure_requests import erasure_request_file
        from tools.services import tool_create
        agent = agent_create_for(tenant)
        version = agent_publish(tenant=tenant, agent=agent)
        number = phone_number_create(tenant=tenant, e164=f"+1555010{tenant.pk % 10000:04d}",
                                     agent_id=agent.pk)
        call = make_call(tenant=tenant, agent=agent)
        from agents.documents import document_add
        document = document_add(tenant=tenant, agent=agent, filename="a.md",
                                data=b"Parking.")
        from learning.models import Suggestion
        suggestion = Suggestion.objects.create(
            tenant=tenant, agent=agent, kind="knowledge_entry", fingerprint="f",
            title="Callers ask", proposal={"question": "Q?", "answer": ""}, evidence={})
        from calls.campaigns import campaign_create
        campaign = campaign_create(tenant=tenant, agent=agent, from_number=number,
                                   name="Reminders", legal_basis="contract")
        return {"agent": agent.pk, "document": (agent.pk, document.pk),
                "campaign": campaign.pk,
                "suggestion": (agent.pk, suggestion.pk),
                "agent_version": (agent.pk, version.number),
                "contact": call.contact_id,
                "number": number.pk,
                "call": make_call(tenant=tenant, agent=agent).pk,
                "api_key": api_key_create(tenant=tenant, name="k").api_key.pk,
                "erasure_request": erasure_request_file(
                    tenant=tenant, phone_number=f"+1555014{tenant.pk % 10000:04d}").pk,
                "alert_rule": alert_rule_create(tenant=tenant, name="a", metric="error_rate_pct",
                                                threshold=5).pk,
                "tool": tool_create(tenant=tenant, name="t", description="d",
                                    url_template="https://example.com/").pk,
                "membership": membership_set(
                    tenant=tenant, role=Role.MEMBER, user=get_user_model().objects.create_user(
                        f"member-of-{tenant.slug}")).pk,
                "invitation": invitation_create(
                    tenant=tenant, email=f"x@{tenant.slug}.example", role="member",
                    invited_by=None, invited_by_role="owner").invitation.pk}

    return make


@pytest.fixture
def agent_create_for():
    from agents.services import agent_create
    return lambda tenant: agent_create(tenant=tenant, name=f"Agent of {tenant.slug}")


def url_of(name: str, kind: str | None, ids: dict[str, int | tuple[int, ...]]) -> str:
    if kind is None:
        return reverse(name)
    args = ids[kind]
    return reverse(name, args=args if isinstance(args, tuple) else [args])


def test_anonymous_users_are_sent_to_login_from_every_page(tenant, objects_of):
    ids = objects_of(tenant)
    client = Client()
    for name, kind in PAGES:
        url = url_of(name, kind, ids)
        response = client.post(url) if name in POST_ONLY else client.get(url)
        assert response.status_code == 302, url
        assert response.url == f"{reverse('portal:login')}?next={url}", url


def test_every_page_answers_404_for_another_tenants_ids(owner_client, other_tenant, objects_of):
    theirs = objects_of(other_tenant)
    for name, kind in PAGES:
        if kind is None:
            continue
        url = url_of(name, kind, theirs)
        assert owner_client.post(url).status_code == 404, url
        if name not in POST_ONLY:
            assert owner_client.get(url).status_code == 404, url


def test_ids_that_cannot_exist_are_404_not_500(owner_client):
    for name, kind in PAGES:
        if kind is not None:
            # (a version's number is 1: its agent is the id that cannot exist)
            two = kind in ("agent_version", "document", "suggestion")
            url = reverse(name, args=[10**30, 1] if two else [10**30])
            assert owner_client.post(url).status_code == 404, url


def test_a_viewer_gets_403_on_every_write(viewer_client, tenant, objects_of):
    ids = objects_of(tenant)
    for name, kind in PAGES:
        assert viewer_client.post(url_of(name, kind, ids), {"name": "x"}).status_code == 403, name


def test_a_user_without_a_team_is_told_so(django_user_model):
    user = django_user_model.objects.create_user("loner", password="pw-loner-123")
    client = Client()
    client.force_login(user)

    response = client.get(reverse("portal:home"))

    assert response.status_code == 403
    assert b"not part of a team" in response.content


def test_a_member_of_two_tenants_sees_the_first_and_only_its_data(
        tenant, other_tenant, django_user_model, objects_of):
    # given a user who joined `tenant` first and `other_tenant` later, as a viewer there
    user = django_user_model.objects.create_user("both", password="pw-both-123")
    membership_set(tenant=tenant, user=user, role=Role.OWNER)
    membership_set(tenant=other_tenant, user=user, role=Role.VIEWER)
    theirs = objects_of(other_tenant)
    client = Client()
    client.force_login(user)

    # then the portal acts for the first tenant: the second one's agent is not found there
    assert client.get(reverse("portal:agent-edit", args=[theirs["agent"]])).status_code == 404
    assert tenant.name.encode() in client.get(reverse("portal:home")).content
