"""API keys: the secret is shown once, keys are listed by prefix, revocation works."""

from __future__ import annotations

import pytest
from django.urls import reverse

from aybiza.core.models import ApiKey
from aybiza.core.services import api_key_authenticate, api_key_create

pytestmark = pytest.mark.django_db
KEYS = reverse("portal:api-keys")


def test_empty_state(owner_client):
    assert b"No API keys yet" in owner_client.get(KEYS).content


def test_create_shows_the_secret_once_and_it_works(owner_client, tenant):
    # when a key is created
    response = owner_client.post(reverse("portal:api-key-new"),
                                 {"name": "CRM sync", "scopes": ["read"]})

    # then the page carries a working key, not cached, and the list shows only its prefix
    key = ApiKey.objects.get(tenant=tenant, name="CRM sync")
    secret = response.context["secret"]
    assert secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert api_key_authenticate(key=secret) == key and key.scopes == ["read"]
    listing = owner_client.get(KEYS).content.decode()
    assert f"ayb_{key.prefix}_" in listing and secret not in listing


def test_a_key_needs_a_name_and_a_scope(owner_client, tenant):
    response = owner_client.post(reverse("portal:api-key-new"), {"name": "", "scopes": []})

    assert response.status_code == 200
    assert b'id="id_name_errors"' in response.content
    assert b'id="id_scopes_errors"' in response.content
    assert not ApiKey.objects.filter(tenant=tenant).exists()


def test_list_in_bounded_queries_without_other_tenants(owner_client, tenant, other_tenant,
                                                      django_assert_max_num_queries):
    for n in range(5):
        api_key_create(tenant=tenant, name=f"key {n}")
    api_key_create(tenant=other_tenant, name="globex key")

    with django_assert_max_num_queries(5):
        body = owner_client.get(KEYS).content.decode()

    assert "key 4" in body and "globex key" not in body


def test_revoke(owner_client, tenant):
    issued = api_key_create(tenant=tenant, name="old")

    response = owner_client.post(reverse("portal:api-key-revoke", args=[issued.api_key.pk]))

    assert response.status_code == 302
    assert api_key_authenticate(key=issued.key) is None


def test_revoke_is_post_only(owner_client, tenant):
    issued = api_key_create(tenant=tenant, name="old")

    response = owner_client.get(reverse("portal:api-key-revoke", args=[issued.api_key.pk]))

    assert response.status_code == 405
    assert api_key_authenticate(key=issued.key) is not None


def test_another_tenants_key_cannot_be_revoked(owner_client, other_tenant):
    issued = api_key_create(tenant=other_tenant, name="theirs")

    response = owner_client.post(reverse("portal:api-key-revoke", args=[issued.api_key.pk]))

    assert response.status_code == 404
    assert api_key_authenticate(key=issued.key) is not None


def test_viewer_cannot_create_or_revoke(viewer_client, tenant):
    issued = api_key_create(tenant=tenant, name="kept")

    assert viewer_client.get(reverse("portal:api-key-new")).status_code == 403
    assert viewer_client.post(reverse("portal:api-key-new"),
                              {"name": "x", "scopes": ["read"]}).status_code == 403
    assert viewer_client.post(reverse("portal:api-key-revoke",
                                      args=[issued.api_key.pk])).status_code == 403
    assert ApiKey.objects.filter(tenant=tenant).count() == 1
    assert api_key_authenticate(key=issued.key) is not None
