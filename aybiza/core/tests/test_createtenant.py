"""`manage.py createtenant`: onboarding a business from the command line."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from aybiza.core.models import Membership, Role, Tenant


def _run(*args: str) -> dict:
    out = io.StringIO()
    call_command("createtenant", *args, "--json", stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.mark.django_db
def test_creates_tenant_with_owner_and_working_key(django_user_model):
    # given an existing user
    user = django_user_model.objects.create_user("alice")
    # when
    result = _run("Acme Dental", "--owner", "alice", "--api-key")
    # then
    tenant = Tenant.objects.get(pk=result["tenant_id"])
    assert (tenant.name, tenant.slug) == ("Acme Dental", "acme-dental")
    assert Membership.objects.get(user=user, tenant=tenant).role == Role.OWNER
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {result['api_key']}")
    assert client.get("/api/v1/agents/").status_code == 200


@pytest.mark.django_db
def test_same_name_twice_gets_a_distinct_slug():
    first, second = _run("Acme"), _run("Acme")
    assert (first["slug"], second["slug"]) == ("acme", "acme-2")
    assert first["api_key"] is None


@pytest.mark.django_db
def test_taken_slug_and_unknown_owner_are_refused_without_side_effects():
    _run("Acme", "--slug", "acme")
    with pytest.raises(CommandError, match="taken"):
        _run("Other", "--slug", "acme")
    with pytest.raises(CommandError, match="No user"):
        _run("Globex", "--owner", "nobody")
    assert list(Tenant.objects.values_list("name", flat=True)) == ["Acme"]
