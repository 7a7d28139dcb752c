"""Signing in and out of the portal, behind the project's login lockout."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from compliance.conf import setting

pytestmark = pytest.mark.django_db
LOGIN = reverse("portal:login")


@pytest.fixture(autouse=True)
def _fresh_lockout_counts():
    cache.clear()
    yield
    cache.clear()


def test_sign_in_lands_on_the_overview(owner):
    client = Client()

    response = client.post(LOGIN, {"username": "owner", "password": "pw-owner-123"})

    assert response.status_code == 302 and response.url == reverse("portal:home")
    assert client.get(reverse("portal:home")).status_code == 200


def test_sign_in_follows_a_safe_next_but_not_an_offsite_one(owner):
    agents = reverse("portal:agents")
    response = Client().post(f"{LOGIN}?next={agents}",
                             {"username": "owner", "password": "pw-owner-123", "next": agents})
    assert response.url == agents

    response = Client().post(LOGIN, {"username": "owner", "password": "pw-owner-123",
                                     "next": "https://evil.example/"})
    assert response.url == reverse("portal:home")


def test_a_wrong_password_is_an_error_on_the_form(owner):
    response = Client().post(LOGIN, {"username": "owner", "password": "nope"})

    assert response.status_code == 200
    assert b"Wrong username or password" in response.content


def test_the_login_lockout_applies_to_the_portal(owner):
    # given as many failures as the lockout allows
    client = Client()
    for _ in range(setting("LOGIN_LOCKOUT_ATTEMPTS")):
        client.post(LOGIN, {"username": "owner", "password": "wrong"})

    # when the right password follows
    response = client.post(LOGIN, {"username": "owner", "password": "pw-owner-123"})

    # then the pair is locked out: no session
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_sign_out_is_post_only_and_ends_the_session(owner_client):
    assert owner_client.get(reverse("portal:logout")).status_code == 405

    response = owner_client.post(reverse("portal:logout"))

    assert response.url == LOGIN
    assert owner_client.get(reverse("portal:home")).status_code == 302


def test_login_page_is_csrf_protected(owner):
    client = Client(enforce_csrf_checks=True)

    response = client.post(LOGIN, {"username": "owner", "password": "pw-owner-123"})

    assert response.status_code == 403


def test_a_viewer_may_change_their_own_password(viewer_client):
    response = viewer_client.post(reverse("portal:password-change"), {
        "old_password": "pw-portal-123", "new_password1": "a-Much-longer-pass-42",
        "new_password2": "a-Much-longer-pass-42"})

    assert response.status_code == 302
    viewer_client.user.refresh_from_db()
    assert viewer_client.user.check_password("a-Much-longer-pass-42")


def test_a_member_of_two_teams_switches_between_them(tenant, other_tenant, django_user_model):
    from aybiza.core.models import Role
    from aybiza.core.services import membership_set

    user = django_user_model.objects.create_user("both", password="pw-both-123")
    membership_set(tenant=tenant, user=user, role=Role.OWNER)
    membership_set(tenant=other_tenant, user=user, role=Role.VIEWER)
    client = Client()
    client.force_login(user)
    assert b'<option value="globex-plumbing">' in client.get(reverse("portal:home")).content

    client.post(reverse("portal:switch-tenant"), {"tenant": "globex-plumbing"})

    home = client.get(reverse("portal:home")).content.decode()
    assert "<h1>Globex Plumbing</h1>" in home
    assert client.get(reverse("portal:agent-new")).status_code == 403  # a viewer there


def test_switching_to_a_team_one_is_not_in_is_404(owner, other_tenant):
    client = Client()
    client.force_login(owner)

    response = client.post(reverse("portal:switch-tenant"), {"tenant": other_tenant.slug})

    assert response.status_code == 404
    assert b"<h1>Acme Dental</h1>" in client.get(reverse("portal:home")).content
