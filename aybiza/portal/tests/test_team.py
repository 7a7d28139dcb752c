"""Team: members and roles, invitations shown once and accepted once, owners kept."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aybiza.core.models import Invitation, Membership, Role
from aybiza.core.services import invitation_create, membership_set

pytestmark = pytest.mark.django_db
TEAM = reverse("portal:team")


def invite(client, email="sam@example.com", role=Role.MEMBER) -> str:
    """Invite through the page; returns the link it shows."""
    response = client.post(reverse("portal:team-invite"), {"email": email, "role": role})
    match = re.search(r'id="invite-link"[^>]*value="([^"]+)"', response.content.decode())
    assert match, response.content.decode()
    return match.group(1)


def test_the_team_page_lists_members_in_bounded_queries(
        owner_client, member_client, other_tenant, django_assert_max_num_queries):
    member_client(Role.VIEWER)
    member_client(Role.OWNER, of=other_tenant)

    with django_assert_max_num_queries(6):
        body = owner_client.get(TEAM).content.decode()

    assert "owner-acme-dental" in body and "viewer-acme-dental" in body
    assert "owner-globex-plumbing" not in body
    assert "No pending invitations." in body


def test_an_invited_person_signs_up_once_and_joins_with_the_role(owner_client, tenant):
    # given an invitation link for a member, shown once to the owner
    link = invite(owner_client, role=Role.MEMBER)
    path = link.removeprefix("http://testserver")
    assert "sam@example.com" in owner_client.get(TEAM).content.decode()
    assert path not in owner_client.get(TEAM).content.decode()  # the link is not shown again

    # when the invited person opens it and creates an account
    guest = Client()
    assert b"Join Acme Dental" in guest.get(path).content
    response = guest.post(path, {"username": "sam", "password1": "a-Long-pass-42x",
                                 "password2": "a-Long-pass-42x"})

    # then they are signed in as a member of this tenant, with the invited e-mail
    assert response.url == reverse("portal:home")
    membership = Membership.objects.get(tenant=tenant, user__username="sam")
    assert membership.role == Role.MEMBER and membership.user.email == "sam@example.com"
    assert guest.get(reverse("portal:agent-new")).status_code == 200
    # and the link works only once
    assert Client().get(path).status_code == 404


def test_a_signed_in_user_joins_with_one_click(owner_client, other_tenant, django_user_model):
    user = django_user_model.objects.create_user("pat", password="pw-pat-123")
    membership_set(tenant=other_tenant, user=user, role=Role.OWNER)
    path = invite(owner_client, email="pat@example.com", role=Role.VIEWER).removeprefix(
        "http://testserver")
    client = Client()
    client.force_login(user)

    client.post(path)

    # the portal now shows the team they just joined, as a viewer
    assert Membership.objects.get(user=user, tenant__slug="acme-dental").role == Role.VIEWER
    home = client.get(reverse("portal:home")).content.decode()
    assert "Acme Dental" in home and "Viewer" in home


@pytest.mark.parametrize("ended", ["revoked_at", "accepted_at", "expired"])
def test_an_ended_invitation_does_not_work(tenant, ended):
    issued = invitation_create(tenant=tenant, email="x@example.com", role=Role.MEMBER,
                               invited_by=None, invited_by_role=Role.OWNER)
    field = "expires_at" if ended == "expired" else ended
    Invitation.objects.filter(pk=issued.invitation.pk).update(**{field: timezone.now()})
    path = reverse("portal:invitation-accept", args=[issued.token])

    assert Client().get(path).status_code == 404
    response = Client().post(path, {"username": "x", "password1": "a-Long-pass-42x",
                                    "password2": "a-Long-pass-42x"})
    assert response.status_code == 404
    assert not Membership.objects.filter(user__username="x").exists()


def test_a_made_up_token_is_404(db):
    assert Client().get(reverse("portal:invitation-accept", args=["nope"])).status_code == 404


def test_bad_invitations_are_errors_at_the_field(owner_client, tenant, owner):
    owner.email = "owner@example.com"
    owner.save()
    for data, field in [({"email": "not-an-email", "role": "member"}, "email"),
                        ({"email": "a@example.com", "role": "god"}, "role"),
                        ({"email": "OWNER@example.com", "role": "member"}, "email")]:
        response = owner_client.post(reverse("portal:team-invite"), data)
        assert f'id="id_{field}_errors"'.encode() in response.content, data
    assert not Invitation.objects.exists()


def test_only_owners_make_owners_and_the_last_owner_stays(member_client, tenant, owner):
    admin = member_client(Role.ADMIN)
    owner_membership = Membership.objects.get(user=owner, tenant=tenant)

    # an admin may not invite an owner, nor demote or remove one
    response = admin.post(reverse("portal:team-invite"),
                          {"email": "boss@example.com", "role": "owner"})
    assert b"Only an owner may grant this." in response.content
    admin.post(reverse("portal:member-role", args=[owner_membership.pk]), {"role": "viewer"})
    admin.post(reverse("portal:member-remove", args=[owner_membership.pk]))
    owner_membership.refresh_from_db()
    assert owner_membership.role == Role.OWNER

    # and the only owner cannot stop being one
    owner_client = Client()
    owner_client.force_login(owner)
    response = owner_client.post(reverse("portal:member-role", args=[owner_membership.pk]),
                                 {"role": "admin"}, follow=True)
    assert b"at least one owner" in response.content
    owner_membership.refresh_from_db()
    assert owner_membership.role == Role.OWNER


def test_an_admin_changes_roles_and_removes_members(member_client, tenant):
    admin = member_client(Role.ADMIN)
    viewer = member_client(Role.VIEWER)
    membership = Membership.objects.get(user=viewer.user, tenant=tenant)

    admin.post(reverse("portal:member-role", args=[membership.pk]), {"role": "member"})
    membership.refresh_from_db()
    assert membership.role == Role.MEMBER

    admin.post(reverse("portal:member-remove", args=[membership.pk]))
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert viewer.get(reverse("portal:home")).status_code == 403  # no team any more


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_cannot_manage_the_team(member_client, tenant, owner, role):
    client = member_client(role)
    owner_membership = Membership.objects.get(user=owner, tenant=tenant)

    assert client.get(TEAM).status_code == 200
    assert client.post(reverse("portal:team-invite"),
                       {"email": "a@example.com", "role": "member"}).status_code == 403
    assert client.post(reverse("portal:member-role", args=[owner_membership.pk]),
                       {"role": "viewer"}).status_code == 403
    assert client.post(reverse("portal:member-remove",
                               args=[owner_membership.pk])).status_code == 403
    assert not Invitation.objects.exists()
